"""Pure image work: numpy and Pillow only (no onnxruntime, no webview)."""
