package lmdbstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// This file is a read-only reader of LMDB's on-disk format (liblmdb 0.9,
// 64-bit builds: the layout MMF's python-lmdb and lmdb-go write). It
// reads pages with pread instead of mapping the file, so a file that is
// truncated, corrupt, or shrinks while open gives an error naming the
// file and what is wrong, never a SIGBUS. Every page number, node offset
// and length is checked against the page and the file before use.

const (
	mdbMagic       = 0xBEEFC0DE
	mdbDataVersion = 1
	pageHeaderSize = 16
	nodeHeaderSize = 8
	invalidPage    = ^uint64(0)

	pageBranch   = 0x01
	pageLeaf     = 0x02
	pageOverflow = 0x04
	pageMeta     = 0x08
	pageLeaf2    = 0x20

	nodeBigData = 0x01
	nodeSubData = 0x02
	nodeDupData = 0x04

	// maxDepth bounds a B-tree walk so that a page cycle in a corrupt
	// file ends with an error.
	maxDepth = 64
)

// mdbMeta is one of the two meta pages.
type mdbMeta struct {
	pageSize uint32
	mapSize  uint64
	lastPage uint64
	txnID    uint64
	// main database
	flags   uint16
	depth   uint16
	entries uint64
	root    uint64
}

// mdbFile is an open LMDB data file.
type mdbFile struct {
	name  string // the data file, for messages
	f     *os.File
	size  int64
	meta  mdbMeta
	psize int64
}

// openMDB opens the data file (data.mdb, or the single file of a
// NoSubdir environment) and checks it against its newest valid meta page.
func openMDB(name string) (*mdbFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	m, err := newMDB(name, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

func newMDB(name string, f *os.File) (*mdbFile, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	m := &mdbFile{name: name, f: f, size: st.Size()}
	if err := m.readMeta(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *mdbFile) close() error { return m.f.Close() }

// readMeta picks the newest valid meta page and checks the file holds
// every page it records.
func (m *mdbFile) readMeta() error {
	if m.size == 0 {
		return fmt.Errorf("%s is empty (0 bytes), not an LMDB environment", m.name)
	}
	if m.size < pageHeaderSize+136 {
		return fmt.Errorf("%s is %d bytes, too short for an LMDB meta page", m.name, m.size)
	}
	head := make([]byte, pageHeaderSize+136)
	if _, err := m.f.ReadAt(head, 0); err != nil {
		return fmt.Errorf("%s: read meta page 0: %w", m.name, err)
	}
	m0, err := parseMeta(head)
	if err != nil {
		return fmt.Errorf("%s: meta page 0: %w (not an LMDB environment, or a corrupt one)", m.name, err)
	}
	best := m0
	psize := int64(m0.pageSize)
	if m.size >= psize+int64(len(head)) {
		if _, err := m.f.ReadAt(head, psize); err != nil {
			return fmt.Errorf("%s: read meta page 1: %w", m.name, err)
		}
		if m1, err := parseMeta(head); err == nil && m1.pageSize == m0.pageSize && m1.txnID > m0.txnID {
			best = m1
		}
	} else {
		return fmt.Errorf("%s is %d bytes, shorter than its two meta pages of %d bytes: the file is truncated", m.name, m.size, 2*psize)
	}
	m.meta, m.psize = best, psize
	if best.lastPage < 1 || best.lastPage > uint64(1<<62)/uint64(psize) {
		return fmt.Errorf("%s: meta page records last page %d, impossible", m.name, best.lastPage)
	}
	need := int64(best.lastPage+1) * psize
	if m.size < need {
		return fmt.Errorf("%s is %d bytes, but the environment's last page %d ends at byte %d: the file is truncated (%d bytes missing)",
			m.name, m.size, best.lastPage, need, need-m.size)
	}
	if best.mapSize != 0 && uint64(need) > best.mapSize {
		return fmt.Errorf("%s: last page %d lies beyond the recorded map size %d: the meta page is corrupt", m.name, best.lastPage, best.mapSize)
	}
	if best.flags&(0x02|0x04|0x08) != 0 {
		// MDB_REVERSEKEY, MDB_DUPSORT and MDB_INTEGERKEY main databases
		// sort differently from MMF's stores.
		return fmt.Errorf("%s: the main database has flags %#x (reverse, duplicate or integer keys), not an MMF feature store", m.name, best.flags)
	}
	if best.root != invalidPage && (best.root > best.lastPage || best.depth == 0 || best.depth > maxDepth) {
		return fmt.Errorf("%s: root page %d at depth %d with last page %d: the meta page is corrupt", m.name, best.root, best.depth, best.lastPage)
	}
	return nil
}

// parseMeta decodes a meta page (page header included).
func parseMeta(p []byte) (mdbMeta, error) {
	le := binary.LittleEndian
	var m mdbMeta
	if flags := le.Uint16(p[10:]); flags&pageMeta == 0 {
		return m, fmt.Errorf("page flags %#x, want a meta page", flags)
	}
	b := p[pageHeaderSize:]
	if magic := le.Uint32(b[0:]); magic != mdbMagic {
		return m, fmt.Errorf("magic %#x, want %#x", magic, mdbMagic)
	}
	if v := le.Uint32(b[4:]); v != mdbDataVersion {
		return m, fmt.Errorf("data format version %d, want %d", v, mdbDataVersion)
	}
	m.mapSize = le.Uint64(b[16:])
	free := b[24:72]
	m.pageSize = le.Uint32(free[0:])
	if m.pageSize < 512 || m.pageSize > 65536 || m.pageSize&(m.pageSize-1) != 0 {
		return m, fmt.Errorf("page size %d, want a power of two in [512, 65536]", m.pageSize)
	}
	main := b[72:120]
	m.flags = le.Uint16(main[4:])
	m.depth = le.Uint16(main[6:])
	m.entries = le.Uint64(main[32:])
	m.root = le.Uint64(main[40:])
	m.lastPage = le.Uint64(b[120:])
	m.txnID = le.Uint64(b[128:])
	return m, nil
}

// page reads page pgno.
func (m *mdbFile) page(pgno uint64) ([]byte, error) {
	if pgno < 2 || pgno > m.meta.lastPage {
		return nil, fmt.Errorf("%s: reference to page %d outside the environment's pages 2..%d: the file is corrupt", m.name, pgno, m.meta.lastPage)
	}
	p := make([]byte, m.psize)
	if err := m.readAt(p, int64(pgno)*m.psize, fmt.Sprintf("page %d", pgno)); err != nil {
		return nil, err
	}
	return p, nil
}

// readAt reads len(p) bytes at off; a short read means the file shrank
// after it was opened.
func (m *mdbFile) readAt(p []byte, off int64, what string) error {
	n, err := m.f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		size := "?"
		if st, serr := m.f.Stat(); serr == nil {
			size = fmt.Sprint(st.Size())
		}
		return fmt.Errorf("%s: %s (bytes %d..%d) lies beyond the end of the file, now %s bytes: the file was truncated", m.name, what, off, off+int64(len(p)), size)
	}
	return fmt.Errorf("%s: read %s: %w", m.name, what, err)
}

// mdbNode is one entry of a branch or leaf page.
type mdbNode struct {
	key   []byte
	child uint64 // branch pages
	flags uint16 // leaf pages
	data  []byte // leaf pages: the value, or the overflow page number
	dsize uint64 // leaf pages: the value's size
}

// nodes decodes a branch or leaf page's entries.
func (m *mdbFile) nodes(pgno uint64, p []byte) (flags uint16, out []mdbNode, err error) {
	le := binary.LittleEndian
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: page %d: %s: the file is corrupt", m.name, pgno, fmt.Sprintf(format, a...))
	}
	flags = le.Uint16(p[10:])
	if flags&pageLeaf2 != 0 {
		return flags, nil, bad("a LEAF2 page (dupfixed data), not used by feature stores")
	}
	if flags&(pageBranch|pageLeaf) == 0 || flags&(pageBranch|pageLeaf) == pageBranch|pageLeaf {
		return flags, nil, bad("flags %#x, want a branch or leaf page", flags)
	}
	if got := le.Uint64(p[0:]); got != pgno {
		return flags, nil, bad("header says page %d", got)
	}
	lower, upper := int(le.Uint16(p[12:])), int(le.Uint16(p[14:]))
	if lower < pageHeaderSize || lower > upper || upper > len(p) || (lower-pageHeaderSize)%2 != 0 {
		return flags, nil, bad("free-space bounds %d..%d in a page of %d bytes", lower, upper, len(p))
	}
	n := (lower - pageHeaderSize) / 2
	out = make([]mdbNode, n)
	for i := range out {
		off := int(le.Uint16(p[pageHeaderSize+2*i:]))
		if off < upper || off+nodeHeaderSize > len(p) {
			return flags, nil, bad("entry %d at offset %d outside the page's data area %d..%d", i, off, upper, len(p))
		}
		lo, hi, nf, ks := uint64(le.Uint16(p[off:])), uint64(le.Uint16(p[off+2:])), le.Uint16(p[off+4:]), int(le.Uint16(p[off+6:]))
		kstart := off + nodeHeaderSize
		if kstart+ks > len(p) {
			return flags, nil, bad("entry %d: key of %d bytes runs past the page", i, ks)
		}
		nd := mdbNode{key: p[kstart : kstart+ks]}
		if flags&pageBranch != 0 {
			nd.child = lo | hi<<16 | uint64(nf)<<32
		} else {
			nd.flags = nf
			nd.dsize = lo | hi<<16
			dstart := kstart + ks
			dlen := int(nd.dsize)
			if nf&nodeBigData != 0 {
				dlen = 8
			}
			if nf&(nodeSubData|nodeDupData) != 0 {
				return flags, nil, bad("entry %d (key %q) is a sub-database or duplicate list, not used by feature stores", i, nd.key)
			}
			if dstart+dlen > len(p) || dlen < 0 {
				return flags, nil, bad("entry %d (key %q): value of %d bytes runs past the page", i, nd.key, dlen)
			}
			nd.data = p[dstart : dstart+dlen]
		}
		out[i] = nd
	}
	return flags, out, nil
}

// value returns a leaf node's value, reading its overflow pages, in buf
// when it is large enough.
func (m *mdbFile) value(nd mdbNode, buf []byte) ([]byte, error) {
	if nd.flags&nodeBigData == 0 {
		return append(buf[:0], nd.data...), nil
	}
	le := binary.LittleEndian
	pgno := le.Uint64(nd.data)
	if pgno < 2 || pgno > m.meta.lastPage {
		return nil, fmt.Errorf("%s: key %q: overflow page %d outside the environment's pages 2..%d: the file is corrupt", m.name, nd.key, pgno, m.meta.lastPage)
	}
	head := make([]byte, pageHeaderSize)
	if err := m.readAt(head, int64(pgno)*m.psize, fmt.Sprintf("overflow page %d", pgno)); err != nil {
		return nil, err
	}
	if flags := le.Uint16(head[10:]); flags&pageOverflow == 0 || le.Uint64(head) != pgno {
		return nil, fmt.Errorf("%s: key %q: page %d is not an overflow page (flags %#x): the file is corrupt", m.name, nd.key, pgno, flags)
	}
	pages := uint64(le.Uint32(head[12:]))
	if pages == 0 || pgno+pages-1 > m.meta.lastPage {
		return nil, fmt.Errorf("%s: key %q: %d overflow pages from page %d run past the last page %d: the file is corrupt", m.name, nd.key, pages, pgno, m.meta.lastPage)
	}
	if nd.dsize > pages*uint64(m.psize)-pageHeaderSize {
		return nil, fmt.Errorf("%s: key %q: value of %d bytes does not fit its %d overflow pages: the file is corrupt", m.name, nd.key, nd.dsize, pages)
	}
	var val []byte
	if uint64(cap(buf)) >= nd.dsize {
		val = buf[:nd.dsize]
	} else {
		val = make([]byte, nd.dsize)
	}
	if err := m.readAt(val, int64(pgno)*m.psize+pageHeaderSize, fmt.Sprintf("the value of key %q (overflow pages %d..%d)", nd.key, pgno, pgno+pages-1)); err != nil {
		return nil, err
	}
	return val, nil
}

// get finds key in the main database; ok is false when it is absent.
func (m *mdbFile) get(key []byte) (val []byte, ok bool, err error) {
	return m.getInto(key, nil)
}

// getInto is get reading the value into buf when it is large enough.
func (m *mdbFile) getInto(key, buf []byte) (val []byte, ok bool, err error) {
	pgno := m.meta.root
	if pgno == invalidPage {
		return nil, false, nil
	}
	for depth := 0; ; depth++ {
		if depth >= int(m.meta.depth) {
			return nil, false, fmt.Errorf("%s: the B-tree is deeper than its recorded depth %d: the file is corrupt", m.name, m.meta.depth)
		}
		p, err := m.page(pgno)
		if err != nil {
			return nil, false, err
		}
		flags, nodes, err := m.nodes(pgno, p)
		if err != nil {
			return nil, false, err
		}
		if len(nodes) == 0 {
			if flags&pageBranch != 0 {
				return nil, false, fmt.Errorf("%s: page %d: an empty branch page: the file is corrupt", m.name, pgno)
			}
			return nil, false, nil
		}
		if flags&pageBranch != 0 {
			// The last entry whose key is <= key; entry 0's key is
			// the implicit lowest.
			lo, hi := 1, len(nodes)
			for lo < hi {
				mid := (lo + hi) / 2
				if bytes.Compare(nodes[mid].key, key) <= 0 {
					lo = mid + 1
				} else {
					hi = mid
				}
			}
			pgno = nodes[lo-1].child
			continue
		}
		lo, hi := 0, len(nodes)
		for lo < hi {
			mid := (lo + hi) / 2
			if bytes.Compare(nodes[mid].key, key) < 0 {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if lo == len(nodes) || !bytes.Equal(nodes[lo].key, key) {
			return nil, false, nil
		}
		v, err := m.value(nodes[lo], buf)
		return v, err == nil, err
	}
}

// walk calls fn with every key of the main database in order (values
// are not read).
func (m *mdbFile) walk(fn func(key []byte) error) error {
	if m.meta.root == invalidPage {
		return nil
	}
	var visit func(pgno uint64, depth int) error
	seen := 0
	visit = func(pgno uint64, depth int) error {
		if depth >= int(m.meta.depth) {
			return fmt.Errorf("%s: the B-tree is deeper than its recorded depth %d: the file is corrupt", m.name, m.meta.depth)
		}
		if seen++; uint64(seen) > m.meta.lastPage {
			return fmt.Errorf("%s: the B-tree visits more pages than the file holds: the file is corrupt", m.name)
		}
		p, err := m.page(pgno)
		if err != nil {
			return err
		}
		flags, nodes, err := m.nodes(pgno, p)
		if err != nil {
			return err
		}
		for _, nd := range nodes {
			if flags&pageBranch != 0 {
				if err := visit(nd.child, depth+1); err != nil {
					return err
				}
				continue
			}
			if err := fn(nd.key); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(m.meta.root, 0)
}
