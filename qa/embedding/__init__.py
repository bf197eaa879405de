"""The model: its files, the ONNX question encoder that answering uses, and the sentence-transformers model and its ONNX export that building uses."""
