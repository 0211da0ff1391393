package h5store

// The gonum binding lacks three things this package needs: growing a
// dataset (H5Dset_extent), reading with a memory type that differs from
// the file type (so HDF5 converts f8 → f4 instead of the binding copying
// raw bytes), and variable-length string datasets. These thin wrappers
// call the C library on identifiers the binding created.

// #cgo LDFLAGS: -lhdf5 -lhdf5_hl
// #cgo linux,!arm64 CFLAGS: -I/usr/lib/x86_64-linux-gnu/hdf5/serial/include
// #cgo linux,!arm64 LDFLAGS: -L/usr/lib/x86_64-linux-gnu/hdf5/serial/
// #cgo linux,arm64 CFLAGS: -I/usr/lib/aarch64-linux-gnu/hdf5/serial/include
// #cgo linux,arm64 LDFLAGS: -L/usr/lib/aarch64-linux-gnu/hdf5/serial/
// #cgo darwin CFLAGS: -I/usr/local/include
// #cgo darwin LDFLAGS: -L/usr/local/lib
// #include <stdlib.h>
// #include "hdf5.h"
//
// static void mmc_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
//
// static hid_t mmc_native_float(void) { return H5T_NATIVE_FLOAT; }
// static hid_t mmc_native_int32(void) { return H5T_NATIVE_INT32; }
// static hid_t mmc_native_int64(void) { return H5T_NATIVE_INT64; }
//
// static hid_t mmc_vlen_string(void) {
//     hid_t t = H5Tcopy(H5T_C_S1);
//     if (t < 0) return t;
//     if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) { H5Tclose(t); return -1; }
//     return t;
// }
//
// static herr_t mmc_read_vlen_strings(hid_t dset, char **out) {
//     hid_t t = mmc_vlen_string();
//     if (t < 0) return -1;
//     herr_t rc = H5Dread(dset, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
//     H5Tclose(t);
//     return rc;
// }
//
// static herr_t mmc_free_vlen_strings(hid_t dset, char **buf) {
//     hid_t t = mmc_vlen_string();
//     hid_t s = H5Dget_space(dset);
//     herr_t rc = H5Dvlen_reclaim(t, s, H5P_DEFAULT, buf);
//     H5Sclose(s);
//     H5Tclose(t);
//     return rc;
// }
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"gonum.org/v1/hdf5"
)

// h5mu serialises all calls into the HDF5 library, which is not
// thread-safe in general.
var h5mu sync.Mutex

// lockH5 takes h5mu and pins the goroutine to its OS thread until the
// returned unlock runs. HDF5 keeps its error-printing switch per thread
// (in thread-safe builds such as Debian's), and the binding turns it off
// only on the thread that ran its init, so it is turned off here for the
// thread that makes the calls; otherwise a corrupt file prints HDF5's
// error stack to stderr besides returning the error.
func lockH5() (unlock func()) {
	h5mu.Lock()
	runtime.LockOSThread()
	C.mmc_quiet()
	return func() {
		runtime.UnlockOSThread()
		h5mu.Unlock()
	}
}

// memType names a native memory type HDF5 converts into.
type memType int

const (
	memFloat32 memType = iota
	memInt32
	memInt64
)

func (m memType) hid() C.hid_t {
	switch m {
	case memInt32:
		return C.mmc_native_int32()
	case memInt64:
		return C.mmc_native_int64()
	default:
		return C.mmc_native_float()
	}
}

func spaceID(s *hdf5.Dataspace) C.hid_t {
	if s == nil {
		return C.H5S_ALL
	}
	return C.hid_t(s.ID())
}

// readInto reads the selection filespace of d (all of d when nil) into
// buf, which must hold exactly the selected number of elements; HDF5
// converts from the file's type to mem.
func readInto[T float32 | int32 | int64](d *hdf5.Dataset, mem memType, buf []T, memspace, filespace *hdf5.Dataspace) error {
	if len(buf) == 0 {
		return nil
	}
	rc := C.H5Dread(C.hid_t(d.ID()), mem.hid(), spaceID(memspace), spaceID(filespace), C.H5P_DEFAULT, unsafe.Pointer(&buf[0]))
	if rc < 0 {
		return fmt.Errorf("H5Dread %s failed", d.Name())
	}
	return nil
}

// writeFrom writes buf into the selection filespace of d.
func writeFrom[T float32 | int32 | int64](d *hdf5.Dataset, mem memType, buf []T, memspace, filespace *hdf5.Dataspace) error {
	if len(buf) == 0 {
		return nil
	}
	rc := C.H5Dwrite(C.hid_t(d.ID()), mem.hid(), spaceID(memspace), spaceID(filespace), C.H5P_DEFAULT, unsafe.Pointer(&buf[0]))
	if rc < 0 {
		return fmt.Errorf("H5Dwrite %s failed", d.Name())
	}
	return nil
}

// setExtent resizes d (whose maximum dimensions allow it) to dims.
func setExtent(d *hdf5.Dataset, dims []uint) error {
	cd := make([]C.hsize_t, len(dims))
	for i, v := range dims {
		cd[i] = C.hsize_t(v)
	}
	if rc := C.H5Dset_extent(C.hid_t(d.ID()), &cd[0]); rc < 0 {
		return fmt.Errorf("H5Dset_extent %s to %v failed", d.Name(), dims)
	}
	return nil
}

// readVarStrings reads a 1-D dataset of n variable-length strings.
func readVarStrings(d *hdf5.Dataset, n int) ([]string, error) {
	if n == 0 {
		return nil, nil
	}
	ptrs := (**C.char)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0)))))
	if ptrs == nil {
		return nil, fmt.Errorf("out of memory for %d strings", n)
	}
	defer C.free(unsafe.Pointer(ptrs))
	id := C.hid_t(d.ID())
	if rc := C.mmc_read_vlen_strings(id, ptrs); rc < 0 {
		return nil, fmt.Errorf("H5Dread %s as variable-length strings failed", d.Name())
	}
	defer C.mmc_free_vlen_strings(id, ptrs)
	out := make([]string, n)
	for i, p := range unsafe.Slice(ptrs, n) {
		if p != nil {
			out[i] = C.GoString(p)
		}
	}
	return out, nil
}

// hasAttr reports whether the object obj has an attribute called name.
func hasAttr(obj hdf5.Identifier, name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.H5Aexists(C.hid_t(obj.ID()), cname) > 0
}

// isVarString reports whether t is a variable-length string type.
func isVarString(t *hdf5.Datatype) bool {
	return C.H5Tis_variable_str(C.hid_t(t.ID())) > 0
}

// readRaw reads all of d with its own file type into buf (fixed-length
// strings), which must be exactly the dataset's byte size.
func readRaw(d *hdf5.Dataset, t *hdf5.Datatype, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	rc := C.H5Dread(C.hid_t(d.ID()), C.hid_t(t.ID()), C.H5S_ALL, C.H5S_ALL, C.H5P_DEFAULT, unsafe.Pointer(&buf[0]))
	if rc < 0 {
		return fmt.Errorf("H5Dread %s failed", d.Name())
	}
	return nil
}

// writeRaw writes buf (fixed-length strings in type t) into the
// selection filespace of d.
func writeRaw(d *hdf5.Dataset, t *hdf5.Datatype, buf []byte, memspace, filespace *hdf5.Dataspace) error {
	if len(buf) == 0 {
		return nil
	}
	rc := C.H5Dwrite(C.hid_t(d.ID()), C.hid_t(t.ID()), spaceID(memspace), spaceID(filespace), C.H5P_DEFAULT, unsafe.Pointer(&buf[0]))
	if rc < 0 {
		return fmt.Errorf("H5Dwrite %s failed", d.Name())
	}
	return nil
}
