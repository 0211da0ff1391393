//go:build linux

package pytorch

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps path read-only, so a multi-gigabyte checkpoint costs page
// cache rather than a heap copy; release unmaps it. Tensors are copied
// out before release, so nothing returned by Load aliases the map.
func mapFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.IsDir() {
		return nil, nil, fmt.Errorf("%s is a directory", path)
	}
	if st.Size() == 0 {
		return []byte{}, func() {}, nil
	}
	if st.Size() != int64(int(st.Size())) {
		return nil, nil, fmt.Errorf("%s is too large to map", path)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		// Some file systems cannot map; read the file instead.
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil, nil, rerr
		}
		return b, func() {}, nil
	}
	return data, func() { syscall.Munmap(data) }, nil
}
