package tensor

import "fmt"

// Embedding gathers rows of table ([vocab, dim]) for ids and returns a
// tensor of shape idShape+[dim] (idShape defaults to [len(ids)]). The
// backward pass adds into only the rows that were looked up.
func Embedding(table *Tensor, ids []int, idShape ...int) *Tensor {
	mustDim("Embedding table", table, 2)
	vocab, dim := table.Shape[0], table.Shape[1]
	if len(idShape) == 0 {
		idShape = []int{len(ids)}
	}
	if NumElements(idShape) != len(ids) {
		panic(fmt.Sprintf("tensor.Embedding: id shape %v holds %d ids, have %d", idShape, NumElements(idShape), len(ids)))
	}
	for i, id := range ids {
		if id < 0 || id >= vocab {
			panic(fmt.Sprintf("tensor.Embedding: id %d at position %d outside table of %d rows", id, i, vocab))
		}
	}
	out := Zeros(append(append([]int(nil), idShape...), dim)...)
	parallelFor(len(ids), dim, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			copy(out.Data[i*dim:(i+1)*dim], table.Data[ids[i]*dim:(ids[i]+1)*dim])
		}
	})
	return out.record(func() {
		g := table.grad()
		for i, id := range ids {
			dst, src := g[id*dim:(id+1)*dim], out.Grad[i*dim:(i+1)*dim]
			for j, v := range src {
				dst[j] += v
			}
		}
	}, table)
}
