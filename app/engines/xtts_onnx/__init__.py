"""XTTS v2 on ONNX Runtime: graphs exported from coqui's model (export.py, build time only), the numpy
audio front end (audio.py) and the onnxruntime runner the ``xtts`` tier uses without torch."""
