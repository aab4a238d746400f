/// The stages `latent run` knows. Adding a stage is one adapter file and one line here.
public enum StageRegistry {
    nonisolated(unsafe) private static var registered: [any StageAdapter.Type] = [
        SimulateStageAdapter.self,
        ImportStageAdapter.self,
        NormalizeStageAdapter.self,
        PCAStageAdapter.self,
        VAEStageAdapter.self,
        ICAStageAdapter.self,
        NMFStageAdapter.self,
        EnrichStageAdapter.self,
        MetricsStageAdapter.self,
        DifferentialStageAdapter.self,
        ConsensusStageAdapter.self,
        ReportStageAdapter.self,
    ]

    public static var all: [any StageAdapter.Type] { registered }

    public static func adapter(_ type: String) -> (any StageAdapter.Type)? {
        registered.first { $0.type == type }
    }

    /// For tests and plug-ins: adds (or replaces) a stage type before any pipeline is read.
    public static func register(_ adapter: any StageAdapter.Type) {
        registered.removeAll { $0.type == adapter.type }
        registered.append(adapter)
    }
}
