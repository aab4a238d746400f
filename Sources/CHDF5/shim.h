// The HDF5 C API through Swift: the H5T_NATIVE_*, H5P_* and H5F_ACC_* macros and the
// versioned function names (H5Dopen, H5Acreate, ...) do not import, so they are wrapped
// here as static inline functions. Keeping the versioned calls here lets the Swift code
// survive HDF5 1.12+, where the default API version changes.
#ifndef LATENT_CHDF5_SHIM_H
#define LATENT_CHDF5_SHIM_H
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline hid_t lh5_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t lh5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t lh5_native_int8(void)   { return H5T_NATIVE_INT8; }
static inline hid_t lh5_native_int16(void)  { return H5T_NATIVE_INT16; }
static inline hid_t lh5_native_int32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t lh5_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t lh5_native_uint8(void)  { return H5T_NATIVE_UINT8; }
static inline hid_t lh5_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t lh5_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t lh5_c_s1(void)          { return H5T_C_S1; }
static inline hid_t lh5_std_i64le(void)     { return H5T_STD_I64LE; }
static inline hid_t lh5_std_i32le(void)     { return H5T_STD_I32LE; }
static inline hid_t lh5_std_i8le(void)      { return H5T_STD_I8LE; }
static inline hid_t lh5_ieee_f32le(void)    { return H5T_IEEE_F32LE; }
static inline hid_t lh5_ieee_f64le(void)    { return H5T_IEEE_F64LE; }
/// Little-endian standard integer types by width in bytes (1, 2, 4, 8) and signedness.
static inline hid_t lh5_std_int_le(int bytes, int is_signed) {
    switch (bytes) {
    case 1: return is_signed ? H5T_STD_I8LE : H5T_STD_U8LE;
    case 2: return is_signed ? H5T_STD_I16LE : H5T_STD_U16LE;
    case 4: return is_signed ? H5T_STD_I32LE : H5T_STD_U32LE;
    default: return is_signed ? H5T_STD_I64LE : H5T_STD_U64LE;
    }
}

static inline hid_t lh5_p_default(void)         { return H5P_DEFAULT; }
static inline hid_t lh5_p_dataset_create(void)  { return H5P_DATASET_CREATE; }
static inline hid_t lh5_p_file_access(void)     { return H5P_FILE_ACCESS; }
static inline hid_t lh5_p_link_create(void)     { return H5P_LINK_CREATE; }
static inline hid_t lh5_p_group_create(void)    { return H5P_GROUP_CREATE; }
static inline hid_t lh5_s_all(void)             { return H5S_ALL; }
static inline unsigned lh5_f_acc_rdonly(void)   { return H5F_ACC_RDONLY; }
static inline unsigned lh5_f_acc_trunc(void)    { return H5F_ACC_TRUNC; }

static inline hid_t lh5_dopen(hid_t loc, const char *name) { return H5Dopen2(loc, name, H5P_DEFAULT); }
static inline hid_t lh5_gopen(hid_t loc, const char *name) { return H5Gopen2(loc, name, H5P_DEFAULT); }
static inline hid_t lh5_gcreate(hid_t loc, const char *name) {
    // Track creation order so that groups list their members in the order we wrote them,
    // as h5py does for anndata files.
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    // No modification times in object headers: the same data must give the same bytes.
    H5Pset_obj_track_times(gcpl, 0);
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}
static inline hid_t lh5_dcreate(hid_t loc, const char *name, hid_t type, hid_t space, hid_t dcpl) {
    if (dcpl == H5P_DEFAULT) {
        hid_t own = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_obj_track_times(own, 0);
        hid_t d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, own, H5P_DEFAULT);
        H5Pclose(own);
        return d;
    }
    H5Pset_obj_track_times(dcpl, 0);
    return H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
}
static inline hid_t lh5_aopen(hid_t obj, const char *name) { return H5Aopen(obj, name, H5P_DEFAULT); }
static inline hid_t lh5_acreate(hid_t obj, const char *name, hid_t type, hid_t space) {
    return H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
}
static inline int lh5_is_hdf5(const char *path) { return (int)H5Fis_hdf5(path); }
static inline hid_t lh5_fopen_rdonly(const char *path) { return H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); }
static inline hid_t lh5_fcreate(const char *path) {
    // Creation order tracking on the root group too, like h5py's default for anndata.
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    H5Pset_obj_track_times(fcpl, 0);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    return f;
}
/// Silence HDF5's own error stack printing: we turn failures into one-line messages.
static inline void lh5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/// Names of the members of a group, in creation order when tracked, else by name.
typedef struct { char **names; size_t count; } lh5_names;
static inline herr_t lh5__collect(hid_t g, const char *name, const H5L_info_t *info, void *op) {
    (void)g; (void)info;
    lh5_names *n = (lh5_names *)op;
    char **grown = (char **)realloc(n->names, (n->count + 1) * sizeof(char *));
    if (!grown) return -1;
    n->names = grown;
    n->names[n->count++] = strdup(name);
    return 0;
}
static inline int lh5_list(hid_t group, lh5_names *out) {
    out->names = NULL; out->count = 0;
    hsize_t idx = 0;
    unsigned flags = 0;
    hid_t gcpl = H5Gget_create_plist(group);
    if (gcpl >= 0) { H5Pget_link_creation_order(gcpl, &flags); H5Pclose(gcpl); }
    H5_index_t order = (flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
    herr_t r = H5Literate(group, order, H5_ITER_INC, &idx, lh5__collect, out);
    return r < 0 ? -1 : 0;
}
static inline void lh5_names_free(lh5_names *n) {
    for (size_t i = 0; i < n->count; i++) free(n->names[i]);
    free(n->names); n->names = NULL; n->count = 0;
}
/// Object type of a member: 0 group, 1 dataset, -1 other/missing.
static inline int lh5_member_kind(hid_t loc, const char *name) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
    H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
    if (H5Oget_info_by_name3(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
#else
    if (H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
#endif
    if (info.type == H5O_TYPE_GROUP) return 0;
    if (info.type == H5O_TYPE_DATASET) return 1;
    return -1;
}

/// Copies one attribute of a dataset to another object: fixed-size types as their bytes,
/// variable-length strings through char pointers; any other variable-length kind fails.
static inline herr_t lh5__copy_attr(hid_t src, const char *name, const H5A_info_t *info, void *op) {
    (void)info;
    hid_t dst = *(hid_t *)op;
    hid_t a = H5Aopen(src, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    herr_t r = -1;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    int vstr = type >= 0 ? H5Tis_variable_str(type) : -1;
    int vlen = type >= 0 ? H5Tdetect_class(type, H5T_VLEN) : -1;
    int ref = type >= 0 ? H5Tdetect_class(type, H5T_REFERENCE) : -1;
    if (n >= 0 && vstr >= 0 && vlen >= 0 && ref == 0 && (vstr > 0 || vlen == 0)) {
        size_t size = vstr > 0 ? sizeof(char *) : H5Tget_size(type);
        void *buf = calloc((size_t)(n > 0 ? n : 1), size);
        hid_t b = buf ? H5Acreate2(dst, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
        if (b >= 0) {
            if (H5Aread(a, type, buf) >= 0) {
                r = H5Awrite(b, type, buf);
                if (vstr > 0) H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
            }
            H5Aclose(b);
        }
        free(buf);
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    return r;
}
/// A contiguous dataset shaped and typed like `src`, with its attributes, whose storage is
/// allocated now and never filled: the caller copies the raw bytes into it (same file layout
/// as an H5Ocopy of a contiguous dataset, without HDF5 moving the data through memory).
/// Returns the new dataset or a negative id (nothing is left at `name` then).
static inline hid_t lh5_create_contiguous_like(hid_t src, hid_t dst_loc, const char *name) {
    hid_t type = H5Dget_type(src), space = H5Dget_space(src);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t d = (type >= 0 && space >= 0) ? H5Dcreate2(dst_loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT) : -1;
    H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (d < 0) return -1;
    hsize_t idx = 0;
    if (H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, &idx, lh5__copy_attr, &d) < 0) {
        H5Dclose(d);
        H5Ldelete(dst_loc, name, H5P_DEFAULT);
        return -1;
    }
    return d;
}
/// The number of attributes of an object, or -1.
static inline long lh5_num_attrs(hid_t obj) {
    H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
    if (H5Oget_info3(obj, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
#else
    if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0) return -1;
#endif
    return (long)info.num_attrs;
}
/// Whether a dataset is stored contiguously in its own file (no external storage).
static inline int lh5_is_contiguous(hid_t dset) {
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0) return 0;
    int ok = H5Pget_layout(dcpl) == H5D_CONTIGUOUS && H5Pget_external_count(dcpl) == 0;
    H5Pclose(dcpl);
    return ok;
}
/// The file descriptor under the file holding `object` (opened with the default sec2 driver), or -1.
static inline int lh5_file_fd(hid_t object) {
    void *handle = NULL;
    hid_t file = H5Iget_file_id(object);
    if (file < 0) return -1;
    hid_t fapl = H5Fget_access_plist(file);
    int sec2 = fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2;
    if (fapl >= 0) H5Pclose(fapl);
    int fd = (sec2 && H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) >= 0 && handle) ? *(int *)handle : -1;
    H5Fclose(file);
    return fd;
}
#endif
