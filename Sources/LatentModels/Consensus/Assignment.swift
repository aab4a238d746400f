/// The linear assignment problem: rows matched one-to-one to columns at the least total cost.
///
/// The Hungarian method in its shortest-augmenting-path form with dual potentials u (rows) and
/// v (columns): each row is added in turn and joined to the matching along the path whose
/// reduced cost c[i][j] − u[i] − v[j] is least, then the potentials are shifted so that every
/// reduced cost stays ≥ 0 and those on the matching are 0. O(rows² · cols), exact (no
/// tolerance), and deterministic: ties go to the lowest column index.
public enum Assignment {
    /// `cost` is rows × cols row-major with rows ≤ cols; the result gives each row its column.
    public static func minimumCost(_ cost: [Double], rows r: Int, cols c: Int) -> [Int] {
        precondition(r <= c && cost.count == r * c, "assignment needs rows ≤ cols")
        guard r > 0 else { return [] }
        // 1-based as in the usual statement: index 0 is the virtual start of each augmenting path
        var u = [Double](repeating: 0, count: r + 1)
        var v = [Double](repeating: 0, count: c + 1)
        var owner = [Int](repeating: 0, count: c + 1)   // row holding column j (0 = free)
        var way = [Int](repeating: 0, count: c + 1)
        for i in 1...r {
            owner[0] = i
            var j0 = 0
            var minv = [Double](repeating: .infinity, count: c + 1)
            var used = [Bool](repeating: false, count: c + 1)
            repeat {
                used[j0] = true
                let i0 = owner[j0]
                var delta = Double.infinity, j1 = 0
                for j in 1...c where !used[j] {
                    let reduced = cost[(i0 - 1) * c + (j - 1)] - u[i0] - v[j]
                    if reduced < minv[j] { minv[j] = reduced; way[j] = j0 }
                    if minv[j] < delta { delta = minv[j]; j1 = j }
                }
                for j in 0...c {
                    if used[j] { u[owner[j]] += delta; v[j] -= delta } else { minv[j] -= delta }
                }
                j0 = j1
            } while owner[j0] != 0
            // flip the augmenting path
            repeat {
                let j1 = way[j0]
                owner[j0] = owner[j1]
                j0 = j1
            } while j0 != 0
        }
        var result = [Int](repeating: -1, count: r)
        for j in 1...c where owner[j] != 0 { result[owner[j] - 1] = j - 1 }
        return result
    }
}
