// Package nodes holds the node functions of mmc's pipelines: plain typed
// Go functions, one file per stage (data processing, synthetic data,
// feature extraction, training, pretraining, evaluation, inference).
//
// A node takes a context, its inputs and a parameter struct, and returns
// its outputs and an error:
//
//	func TrainModel(ctx context.Context, p TrainParams, folder memes.Folder, feats features.Reader) (models.Trained, train.History, error)
//
// The catalog loads and saves every dataset; a node reads only the files
// its inputs point at (a meme folder's images) and, when training, its
// resumable state folder. They return values and never print; progress bars and notices
// go through package progress. Nodes know nothing of the framework (no
// flow, catalog or config import); package pipelines wires them, and the
// numeric work is in ml/ (models through ml/models, the training loop in
// ml/train).
package nodes
