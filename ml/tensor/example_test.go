package tensor_test

import (
	"fmt"

	"mmc/ml/tensor"
)

// A forward pass written eagerly records its backward; Backward on the
// scalar loss fills the parameters' Grad.
func Example() {
	w := tensor.New([]float32{0.5, -0.5, 1, 0}, 2, 2).SetRequiresGrad(true) // [out, in]
	b := tensor.New([]float32{0, 0.1}, 2).SetRequiresGrad(true)
	x := tensor.New([]float32{1, 2}, 1, 2) // one example, no gradient wanted
	logits := tensor.Linear(x, w, b)
	loss := tensor.CrossEntropy(logits, []int{1}, 0)
	loss.Backward()
	fmt.Printf("logits %.2f loss %.4f\n", logits.Data, loss.Item())
	fmt.Printf("dW %.4f db %.4f\n", w.Grad, b.Grad)
	// Output:
	// logits [-0.50 1.10] loss 0.1839
	// dW [0.1680 0.3360 -0.1680 -0.3360] db [0.1680 -0.1680]
}

// NoGrad turns recording off for inference over a model's parameters.
func ExampleNoGrad() {
	w := tensor.Param(3, 4)
	tensor.NoGrad([]*tensor.Tensor{w}, func() {
		y := tensor.GELU(tensor.Linear(tensor.Zeros(2, 4), w, nil))
		fmt.Println(y.Shape, y.RequiresGrad())
	})
	// Output: [2 3] false
}
