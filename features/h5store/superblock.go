package h5store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// hdf5Signature starts an HDF5 superblock.
var hdf5Signature = []byte("\x89HDF\r\n\x1a\n")

// checkSuperblock reads the file's superblock before libhdf5 sees the
// file, so that the commonest damage (an empty, truncated or foreign
// file) is a clear error naming the file instead of whatever libhdf5
// makes of it: the signature (at 0, 512, 1024, … as HDF5 searches it), a
// known superblock version, 8-byte addresses and lengths as every
// writer on 64-bit machines uses, and an end-of-file address within the
// file.
func checkSuperblock(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return fmt.Errorf("%s is empty (0 bytes), not an HDF5 file", path)
	}
	var at int64 = -1
	sig := make([]byte, len(hdf5Signature))
	for off := int64(0); off+int64(len(sig)) <= size; off = max(512, off*2) {
		if _, err := f.ReadAt(sig, off); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if bytes.Equal(sig, hdf5Signature) {
			at = off
			break
		}
	}
	if at < 0 {
		return fmt.Errorf("%s is not an HDF5 file (no HDF5 signature)", path)
	}
	head := make([]byte, 96)
	n, err := f.ReadAt(head, at)
	if err != nil && err != io.EOF {
		return fmt.Errorf("%s: %w", path, err)
	}
	head = head[:n]
	short := func() error {
		return fmt.Errorf("%s is %d bytes, too short for its HDF5 superblock: the file is truncated", path, size)
	}
	if len(head) < 12 {
		return short()
	}
	version := head[8]
	var sizeOff, sizeLen byte
	var eofAt, baseAt int
	switch version {
	case 0, 1:
		if len(head) < 16 {
			return short()
		}
		sizeOff, sizeLen = head[13], head[14]
		baseAt = 24
		if version == 1 {
			baseAt = 28
		}
		eofAt = baseAt + 2*8
	case 2, 3:
		sizeOff, sizeLen = head[9], head[10]
		baseAt = 12
		eofAt = baseAt + 2*8
	default:
		return fmt.Errorf("%s: HDF5 superblock version %d, want 0 to 3 (a corrupt file?)", path, version)
	}
	if sizeOff != 8 || sizeLen != 8 {
		return fmt.Errorf("%s: HDF5 addresses of %d bytes and lengths of %d, want 8 and 8 (a corrupt file?)", path, sizeOff, sizeLen)
	}
	if len(head) < eofAt+8 {
		return short()
	}
	base := binary.LittleEndian.Uint64(head[baseAt:])
	eof := binary.LittleEndian.Uint64(head[eofAt:])
	if base > uint64(size) || eof > uint64(size)-base {
		return fmt.Errorf("%s is %d bytes, but its HDF5 superblock records an end of file at byte %d: the file is truncated", path, size, base+eof)
	}
	return nil
}
