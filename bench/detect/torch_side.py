"""PyTorch side of bench/detect: the detectors of ml/vision/detect with
torchvision (fasterrcnn_resnet50_fpn) or the caffe-style VG reference of
scripts/fixtures/detect.py, random weights of the real sizes. Saves the
weights to WEIGHTS (so the Go side runs the very same network), times
IMAGES images after one warm-up and prints one JSON line.

    python3 torch_side.py frcnn|vg IMAGES THREADS SMALL WEIGHTS
"""
import importlib.util
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.ops as ops
import torchvision.transforms.functional as TF
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("detect_ref", os.path.join(HERE, "..", "..", "scripts", "fixtures", "detect.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
# the reference's NMS is a Python loop (fine for fixtures); time the C++ one
ref.nms_legacy = lambda b, s, t: ops.nms(b, s, t)


def main():
    model, n, threads, small, weights = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "true", sys.argv[5]
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    x, y = np.meshgrid(np.arange(800), np.arange(600))
    arr = np.stack([x * 255 // 799, y * 255 // 599, (x + y) % 256], -1).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    if model == "frcnn":
        if small:
            m = ref.small_fpn_model()
        else:
            from torchvision.models.detection import fasterrcnn_resnet50_fpn
            m = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
        torch.save(m.state_dict(), weights)

        def run(im):
            return m([TF.to_tensor(im)])
    else:
        m = ref.VGFasterRCNN([1, 2, 1, 1], 8, 32, 21) if small else ref.VGFasterRCNN([3, 4, 23, 3], 64, 512, 1601)
        m = m.eval()
        torch.save({"model": m.state_dict()}, weights)
        short, longest = (128, 192) if small else (600, 1000)
        means = np.array([102.9801, 115.9465, 122.7717], dtype=np.float32)

        def run(im):
            a = np.asarray(im, dtype=np.float32)[:, :, ::-1] - means
            h, w = a.shape[:2]
            scale = float(short) / min(h, w)
            if round(scale * max(h, w)) > longest:
                scale = float(longest) / max(h, w)
            t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]
            t = F.interpolate(t, size=(int(round(h * scale)), int(round(w * scale))), mode="bilinear", align_corners=False)
            return m(t, t.shape[2], t.shape[3])
    with torch.no_grad():
        run(img)
        start = time.perf_counter()
        for _ in range(n):
            run(img)
        s = time.perf_counter() - start
    print(json.dumps({"images_per_s": n / s, "info": f"torch {torch.__version__}, {torch.get_num_threads()} threads"}))


if __name__ == "__main__":
    main()
