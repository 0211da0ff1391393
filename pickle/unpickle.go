// Package pickle decodes Python pickles (protocols 0–5) without executing
// anything. Globals resolve only through an allowlist: the numpy array,
// dtype and scalar reconstructors (both numpy.core and numpy._core
// spellings), _codecs.encode, builtins.bytearray/set/frozenset and
// collections.OrderedDict, plus whatever a caller adds in
// Options.Globals (the PyTorch reader adds its tensor rebuilders). Any
// other global is an error naming module.name, unless Options.Lenient
// turns it into an inert *Class whose instances are plain data (*Object).
// Strict decoding also refuses a pickle whose value still holds a global
// itself (a function or class never called, GlobalName), naming where.
//
// Hostile input is bounded: no length read from the input allocates more
// than the bytes that remain, the stack, mark stack and memo are capped,
// recursion over nested values is depth-limited, and malformed input is
// an error with the byte offset, never a panic.
//
// Decoded values are nil, bool, int64, *big.Int, float64, string, []byte,
// Tuple, *List, *Dict, *Set, *NDArray, *Dtype, *Object, *Class, or what a
// caller's globals return. []byte values and NDArray data alias the input.
package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Options controls decoding. The zero value is strict and uses the
// default limits.
type Options struct {
	// Globals adds or overrides allowed globals, keyed "module.name".
	// Values are usually Callable, Newer or marker values.
	Globals map[string]any
	// Lenient turns unknown globals into inert *Class values instead of
	// failing. Nothing is ever executed either way.
	Lenient bool
	// PersistentLoad resolves PERSID/BINPERSID ids (torch storages).
	// Without it a persistent id is an error.
	PersistentLoad func(pid any) (any, error)
	// MaxStack caps the number of values on the stack (default 1<<22).
	MaxStack int
	// MaxMemo caps the number of memo entries (default 1<<22).
	MaxMemo int
	// MaxMarks caps the depth of nested MARKs (default 1<<16).
	MaxMarks int
}

func (o *Options) limits() (stack, memo, marks int) {
	stack, memo, marks = 1<<22, 1<<22, 1<<16
	if o.MaxStack > 0 {
		stack = o.MaxStack
	}
	if o.MaxMemo > 0 {
		memo = o.MaxMemo
	}
	if o.MaxMarks > 0 {
		marks = o.MaxMarks
	}
	return
}

// ErrUnsupported marks inputs that are well-formed but use a feature this
// decoder refuses (a global outside the allowlist, extension codes,
// out-of-band buffers).
var ErrUnsupported = errors.New("unsupported pickle content")

// Unpickle decodes one pickle from data and returns its value.
func Unpickle(data []byte, opts *Options) (any, error) {
	v, _, err := UnpickleAt(data, 0, opts)
	return v, err
}

// UnpickleAt decodes the pickle that starts at data[off:] and returns its
// value and the offset just past its STOP opcode, for files that hold
// several pickles back to back (legacy torch.save).
func UnpickleAt(data []byte, off int, opts *Options) (any, int, error) {
	if opts == nil {
		opts = &Options{}
	}
	u := &unpickler{data: data, pos: off, opts: opts, memo: map[uint32]any{}}
	u.maxStack, u.maxMemo, u.maxMarks = opts.limits()
	v, err := u.run()
	if err != nil {
		return nil, u.pos, err
	}
	if !opts.Lenient {
		if err := checkNoBareGlobals(v); err != nil {
			return nil, u.pos, err
		}
	}
	return v, u.pos, nil
}

type unpickler struct {
	data  []byte
	pos   int
	opts  *Options
	stack []any
	marks []int
	memo  map[uint32]any
	proto int

	maxStack, maxMemo, maxMarks int
	opPos                       int
}

func (u *unpickler) errf(format string, args ...any) error {
	return fmt.Errorf("pickle: offset %d (opcode 0x%02x): %s", u.opPos, u.data[u.opPos], fmt.Sprintf(format, args...))
}

func (u *unpickler) wrap(err error) error {
	return fmt.Errorf("pickle: offset %d (opcode 0x%02x): %w", u.opPos, u.data[u.opPos], err)
}

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, u.errf("length %d exceeds the %d bytes left", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readLine() ([]byte, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return nil, u.errf("unterminated line")
	}
	line := u.data[u.pos : u.pos+i]
	u.pos += i + 1
	return line, nil
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.read(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	default:
		return binary.LittleEndian.Uint64(b), nil
	}
}

// readLen reads an n-byte little-endian length and checks it against the
// remaining input before anything is allocated for it.
func (u *unpickler) readLen(n int) (int, error) {
	l, err := u.readUint(n)
	if err != nil {
		return 0, err
	}
	if l > uint64(len(u.data)-u.pos) {
		return 0, u.errf("length %d exceeds the %d bytes left", l, len(u.data)-u.pos)
	}
	return int(l), nil
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= u.maxStack {
		return u.errf("stack exceeds %d values", u.maxStack)
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, u.errf("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

// pushResult pushes v unless err, the error of the call that made v, is
// set: it lets an opcode push a result in one line.
func (u *unpickler) pushResult(v any, err error) error {
	if err != nil {
		return err
	}
	return u.push(v)
}

// pop2 pops the top two values: below, then the top one.
func (u *unpickler) pop2() (below, top any, err error) {
	if top, err = u.pop(); err != nil {
		return nil, nil, err
	}
	if below, err = u.pop(); err != nil {
		return nil, nil, err
	}
	return below, top, nil
}

// readGlobal reads the module and name lines of GLOBAL and INST and
// resolves them.
func (u *unpickler) readGlobal() (any, error) {
	mod, err := u.readLine()
	if err != nil {
		return nil, err
	}
	name, err := u.readLine()
	if err != nil {
		return nil, err
	}
	return u.global(string(mod), string(name))
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, u.errf("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops everything above the last MARK and the mark itself.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errf("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := make([]any, len(u.stack)-m)
	copy(items, u.stack[m:])
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(idx uint32, v any) error {
	if _, ok := u.memo[idx]; !ok && len(u.memo) >= u.maxMemo {
		return u.errf("memo exceeds %d entries", u.maxMemo)
	}
	u.memo[idx] = v
	return nil
}

func (u *unpickler) memoGet(idx uint64) error {
	v, ok := u.memo[uint32(idx)]
	if !ok || idx > math.MaxUint32 {
		return u.errf("memo key %d not found", idx)
	}
	return u.push(v)
}

// Opcodes, named as in Python's pickletools.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opPersID         = 'P'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'

	opProto          = 0x80
	opNewObj         = 0x81
	opExt1           = 0x82
	opExt2           = 0x83
	opExt4           = 0x84
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opEmptySet       = 0x8f
	opAddItems       = 0x90
	opFrozenSet      = 0x91
	opNewObjEx       = 0x92
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	opByteArray8     = 0x96
	opNextBuffer     = 0x97
	opReadonlyBuffer = 0x98
)

// maxLongBytes caps arbitrary-precision ints; pickles of weights and
// features never carry big ones, and huge ones cost quadratic time.
const maxLongBytes = 1 << 12

func (u *unpickler) run() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, fmt.Errorf("pickle: offset %d: input ends before STOP", u.pos)
		}
		u.opPos = u.pos
		op := u.data[u.pos]
		u.pos++
		if op == opStop {
			if len(u.marks) != 0 {
				return nil, u.errf("STOP with an open MARK")
			}
			if len(u.stack) != 1 {
				return nil, u.errf("STOP with %d values on the stack, want 1", len(u.stack))
			}
			return u.stack[0], nil
		}
		if err := u.step(op); err != nil {
			return nil, err
		}
	}
}

func (u *unpickler) step(op byte) error {
	switch op {
	case opProto:
		p, err := u.readUint(1)
		if err != nil {
			return err
		}
		if p > 5 {
			return u.errf("protocol %d is newer than 5", p)
		}
		u.proto = int(p)
	case opFrame:
		// Frames only group opcodes for buffered reading; the content is
		// decoded the same with or without them.
		if _, err := u.readLen(8); err != nil {
			return err
		}
	case opMark:
		if len(u.marks) >= u.maxMarks {
			return u.errf("MARKs nested deeper than %d", u.maxMarks)
		}
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		if len(u.stack) > 0 && (len(u.marks) == 0 || len(u.stack) > u.marks[len(u.marks)-1]) {
			u.stack = u.stack[:len(u.stack)-1]
		} else if len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1] {
			// Python's POP discards a MARK that has nothing above it.
			u.marks = u.marks[:len(u.marks)-1]
		} else {
			return u.errf("stack underflow")
		}
	case opPopMark:
		if _, err := u.popMark(); err != nil {
			return err
		}
	case opDup:
		return u.pushResult(u.top())

	case opNone:
		return u.push(nil)
	case opNewTrue:
		return u.push(true)
	case opNewFalse:
		return u.push(false)
	case opInt:
		line, err := u.readLine()
		if err != nil {
			return err
		}
		s := string(line)
		switch s {
		case "00":
			return u.push(false)
		case "01":
			return u.push(true)
		}
		return u.pushDecimal(strings.TrimSuffix(s, "L"))
	case opLong:
		line, err := u.readLine()
		if err != nil {
			return err
		}
		return u.pushDecimal(strings.TrimSuffix(string(line), "L"))
	case opBinInt:
		v, err := u.readUint(4)
		if err != nil {
			return err
		}
		return u.push(int64(int32(uint32(v))))
	case opBinInt1:
		v, err := u.readUint(1)
		if err != nil {
			return err
		}
		return u.push(int64(v))
	case opBinInt2:
		v, err := u.readUint(2)
		if err != nil {
			return err
		}
		return u.push(int64(v))
	case opLong1, opLong4:
		w := 1
		if op == opLong4 {
			w = 4
		}
		n, err := u.readLen(w)
		if err != nil {
			return err
		}
		if n > maxLongBytes {
			return u.errf("int of %d bytes is larger than the %d allowed", n, maxLongBytes)
		}
		b, _ := u.read(n)
		return u.push(decodeLong(b))
	case opFloat:
		line, err := u.readLine()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(string(line)), 64)
		if err != nil {
			return u.errf("bad FLOAT %q", line)
		}
		return u.push(f)
	case opBinFloat:
		v, err := u.read(8)
		if err != nil {
			return err
		}
		return u.push(math.Float64frombits(binary.BigEndian.Uint64(v)))

	case opString:
		line, err := u.readLine()
		if err != nil {
			return err
		}
		s, err := unquotePy2(line)
		if err != nil {
			return u.wrap(err)
		}
		return u.push(s)
	case opBinString, opShortBinString:
		w := 4
		if op == opShortBinString {
			w = 1
		}
		n, err := u.readLen(w)
		if err != nil {
			return err
		}
		b, _ := u.read(n)
		return u.push(string(b))
	case opUnicode:
		line, err := u.readLine()
		if err != nil {
			return err
		}
		s, err := rawUnicodeUnescape(line)
		if err != nil {
			return u.wrap(err)
		}
		return u.push(s)
	case opBinUnicode, opShortBinUni, opBinUnicode8:
		w := lenWidth(op)
		n, err := u.readLen(w)
		if err != nil {
			return err
		}
		b, _ := u.read(n)
		if !utf8.Valid(b) {
			// Python's surrogatepass can write lone surrogates; keep the
			// text readable rather than failing on it.
			return u.push(strings.ToValidUTF8(string(b), "\uFFFD"))
		}
		return u.push(string(b))
	case opBinBytes, opShortBinBytes, opBinBytes8:
		w := lenWidth(op)
		n, err := u.readLen(w)
		if err != nil {
			return err
		}
		b, _ := u.read(n)
		return u.push(b)
	case opByteArray8:
		n, err := u.readLen(8)
		if err != nil {
			return err
		}
		b, _ := u.read(n)
		return u.push(b)
	case opNextBuffer, opReadonlyBuffer:
		return u.wrap(fmt.Errorf("%w: out-of-band buffers (protocol 5 NEXT_BUFFER/READONLY_BUFFER)", ErrUnsupported))

	case opEmptyTuple:
		return u.push(Tuple{})
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(Tuple(items))
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(u.stack) < n || (len(u.marks) > 0 && len(u.stack)-n < u.marks[len(u.marks)-1]) {
			return u.errf("stack underflow")
		}
		t := make(Tuple, n)
		copy(t, u.stack[len(u.stack)-n:])
		u.stack = u.stack[:len(u.stack)-n]
		return u.push(t)
	case opEmptyList:
		return u.push(&List{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(&List{Items: items})
	case opEmptyDict:
		return u.push(NewDict())
	case opDict:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := NewDict()
		if err := setItems(d, items); err != nil {
			return u.wrap(err)
		}
		return u.push(d)
	case opEmptySet:
		return u.push(&Set{})
	case opFrozenSet:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(&Set{Items: items, Frozen: true})

	case opAppend:
		v, err := u.pop()
		if err != nil {
			return err
		}
		target, err := u.top()
		if err != nil {
			return err
		}
		return u.appendTo(target, []any{v})
	case opAppends:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		target, err := u.top()
		if err != nil {
			return err
		}
		return u.appendTo(target, items)
	case opSetItem:
		k, v, err := u.pop2()
		if err != nil {
			return err
		}
		target, err := u.top()
		if err != nil {
			return err
		}
		return u.setItemsOn(target, []any{k, v})
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		target, err := u.top()
		if err != nil {
			return err
		}
		return u.setItemsOn(target, items)
	case opAddItems:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		target, err := u.top()
		if err != nil {
			return err
		}
		s, ok := target.(*Set)
		if !ok {
			return u.errf("ADDITEMS on %s", TypeName(target))
		}
		s.Items = append(s.Items, items...)

	case opPut:
		line, err := u.readLine()
		if err != nil {
			return err
		}
		idx, err := strconv.ParseUint(string(line), 10, 32)
		if err != nil {
			return u.errf("bad PUT index %q", line)
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.memoPut(uint32(idx), v)
	case opBinPut, opLongBinPut:
		w := 1
		if op == opLongBinPut {
			w = 4
		}
		idx, err := u.readUint(w)
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.memoPut(uint32(idx), v)
	case opMemoize:
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.memoPut(uint32(len(u.memo)), v)
	case opGet:
		line, err := u.readLine()
		if err != nil {
			return err
		}
		idx, err := strconv.ParseUint(string(line), 10, 32)
		if err != nil {
			return u.errf("bad GET index %q", line)
		}
		return u.memoGet(idx)
	case opBinGet, opLongBinGet:
		w := 1
		if op == opLongBinGet {
			w = 4
		}
		idx, err := u.readUint(w)
		if err != nil {
			return err
		}
		return u.memoGet(idx)

	case opGlobal:
		return u.pushResult(u.readGlobal())
	case opStackGlobal:
		mod, name, err := u.pop2()
		if err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return u.errf("STACK_GLOBAL needs two str, got %s and %s", TypeName(mod), TypeName(name))
		}
		return u.pushResult(u.global(ms, ns))
	case opExt1, opExt2, opExt4:
		return u.wrap(fmt.Errorf("%w: extension registry codes (EXT1/EXT2/EXT4)", ErrUnsupported))

	case opReduce:
		fn, args, err := u.pop2()
		if err != nil {
			return err
		}
		t, ok := args.(Tuple)
		if !ok {
			// Python's REDUCE accepts only a tuple too.
			return u.errf("REDUCE arguments must be a tuple, got %s", TypeName(args))
		}
		return u.pushResult(u.call(fn, t))
	case opNewObj, opNewObjEx:
		var kwargs *Dict
		if op == opNewObjEx {
			kw, err := u.pop()
			if err != nil {
				return err
			}
			d, ok := kw.(*Dict)
			if !ok {
				return u.errf("NEWOBJ_EX kwargs must be a dict, got %s", TypeName(kw))
			}
			kwargs = d
		}
		cls, args, err := u.pop2()
		if err != nil {
			return err
		}
		t, ok := args.(Tuple)
		if !ok {
			return u.errf("NEWOBJ arguments must be a tuple, got %s", TypeName(args))
		}
		return u.pushResult(u.newObj(cls, t, kwargs))
	case opInst:
		cls, err := u.readGlobal()
		if err != nil {
			return err
		}
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.pushResult(u.call(cls, Tuple(items)))
	case opObj:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return u.errf("OBJ without a class")
		}
		return u.pushResult(u.call(items[0], Tuple(items[1:])))
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return err
		}
		target, err := u.top()
		if err != nil {
			return err
		}
		b, ok := target.(Builder)
		if !ok {
			return u.errf("BUILD (__setstate__) on %s is not supported", TypeName(target))
		}
		if err := b.Build(state); err != nil {
			return u.wrap(fmt.Errorf("BUILD %s: %w", TypeName(target), err))
		}

	case opPersID:
		line, err := u.readLine()
		if err != nil {
			return err
		}
		return u.persistent(string(line))
	case opBinPersID:
		pid, err := u.pop()
		if err != nil {
			return err
		}
		return u.persistent(pid)
	default:
		return u.errf("unknown opcode")
	}
	return nil
}

// lenWidth is the size of the length prefix of a string or bytes opcode.
func lenWidth(op byte) int {
	switch op {
	case opShortBinUni, opShortBinBytes, opShortBinString:
		return 1
	case opBinUnicode8, opBinBytes8, opByteArray8:
		return 8
	}
	return 4
}

func (u *unpickler) pushDecimal(s string) error {
	if len(s) > 4300 {
		// Python itself refuses int/str conversions beyond 4300 digits.
		return u.errf("integer literal of %d digits", len(s))
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return u.push(v)
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return u.errf("bad integer literal %q", s)
	}
	return u.push(b)
}

// decodeLong decodes a little-endian two's-complement integer.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*len(b))
		return int64(v<<shift) >> shift
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	n := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if n.IsInt64() {
		return n.Int64()
	}
	return n
}

func setItems(d *Dict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number of items (%d) for a dict", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.Set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func (u *unpickler) setItemsOn(target any, items []any) error {
	switch t := target.(type) {
	case *Dict:
		if err := setItems(t, items); err != nil {
			return u.wrap(err)
		}
	case *Object:
		if t.DictItems == nil {
			t.DictItems = NewDict()
		}
		if err := setItems(t.DictItems, items); err != nil {
			return u.wrap(err)
		}
	default:
		return u.errf("SETITEM on %s", TypeName(target))
	}
	return nil
}

func (u *unpickler) appendTo(target any, items []any) error {
	switch t := target.(type) {
	case *List:
		t.Items = append(t.Items, items...)
	case *Object:
		t.ListItems = append(t.ListItems, items...)
	default:
		return u.errf("APPEND on %s", TypeName(target))
	}
	return nil
}

func (u *unpickler) call(fn any, args Tuple) (any, error) {
	switch f := fn.(type) {
	case Callable:
		v, err := f.Call(args)
		if err != nil {
			return nil, u.wrap(fmt.Errorf("call %s: %w", globalName(fn), err))
		}
		return v, nil
	case *Class:
		return &Object{Class: f, Args: args}, nil
	default:
		return nil, u.errf("cannot call %s", TypeName(fn))
	}
}

func (u *unpickler) newObj(cls any, args Tuple, kwargs *Dict) (any, error) {
	switch c := cls.(type) {
	case Newer:
		v, err := c.New(args, kwargs)
		if err != nil {
			return nil, u.wrap(fmt.Errorf("new %s: %w", globalName(cls), err))
		}
		return v, nil
	case *Class:
		return &Object{Class: c, Args: args, Kwargs: kwargs}, nil
	case Callable:
		if kwargs != nil && kwargs.Len() > 0 {
			return nil, u.errf("%s takes no keyword arguments", globalName(cls))
		}
		return u.call(cls, args)
	default:
		return nil, u.errf("NEWOBJ on %s", TypeName(cls))
	}
}

func (u *unpickler) persistent(pid any) error {
	if u.opts.PersistentLoad == nil {
		return u.wrap(fmt.Errorf("%w: persistent id %s without a loader", ErrUnsupported, TypeName(pid)))
	}
	v, err := u.opts.PersistentLoad(pid)
	if err != nil {
		return u.wrap(fmt.Errorf("persistent id: %w", err))
	}
	return u.push(v)
}

// py2Modules maps the Python 2 module names that protocol 0–2 pickles
// may carry to their Python 3 names, as Python's fix_imports does.
var py2Modules = map[string]string{
	"__builtin__": "builtins",
	"copy_reg":    "copyreg",
}

func (u *unpickler) global(mod, name string) (any, error) {
	if r, ok := py2Modules[mod]; ok {
		mod = r
	}
	key := mod + "." + name
	if g, ok := u.opts.Globals[key]; ok {
		return g, nil
	}
	if g, ok := builtinGlobals[key]; ok {
		return g, nil
	}
	if u.opts.Lenient {
		return &Class{Module: mod, Name: name}, nil
	}
	return nil, u.wrap(fmt.Errorf("%w: global %s is not in the allowlist", ErrUnsupported, key))
}

// Named is implemented by globals that can say their Python name.
type Named interface{ PyName() string }

func globalName(v any) string {
	if n, ok := v.(Named); ok {
		return n.PyName()
	}
	if c, ok := v.(*Class); ok {
		return c.String()
	}
	return TypeName(v)
}

// unquotePy2 decodes the repr-quoted argument of protocol-0 STRING.
func unquotePy2(line []byte) (string, error) {
	s := string(bytes.TrimRight(line, "\r"))
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return "", fmt.Errorf("STRING argument %q is not quoted", s)
	}
	s = s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("STRING ends in a backslash")
		}
		switch c = s[i]; c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\', '\'', '"':
			b.WriteByte(c)
		case '\n':
		case 'x':
			if i+2 >= len(s) {
				return "", errors.New("truncated \\x escape in STRING")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad \\x escape in STRING: %w", err)
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			if c >= '0' && c <= '7' {
				j := i
				for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(s[i:j], 8, 16)
				b.WriteByte(byte(v))
				i = j - 1
			} else {
				b.WriteByte('\\')
				b.WriteByte(c)
			}
		}
	}
	return b.String(), nil
}

// rawUnicodeUnescape decodes protocol-0 UNICODE (raw-unicode-escape):
// only \uXXXX and \UXXXXXXXX are escapes; other bytes are Latin-1.
func rawUnicodeUnescape(line []byte) (string, error) {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' && i+1 < len(line) && (line[i+1] == 'u' || line[i+1] == 'U') {
			n := 4
			if line[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(line) {
				return "", errors.New("truncated \\u escape in UNICODE")
			}
			v, err := strconv.ParseUint(string(line[i+2:i+2+n]), 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", fmt.Errorf("bad \\u escape %q in UNICODE", line[i:i+2+n])
			}
			b.WriteRune(rune(v))
			i += 1 + n
			continue
		}
		b.WriteRune(rune(c))
	}
	return b.String(), nil
}
