// Package optim trains tensor parameters: AdamW exactly as
// torch.optim.AdamW, parameter groups with their own weight decay,
// learning-rate schedules as in Hugging Face transformers, gradient
// clipping by global norm, gradient accumulation and detection of
// non-finite losses and gradients.
package optim
