"""PyTorch side of bench/vision: the same extractors as ml/vision with
torch/torchvision, random weights of the same sizes. Prints one JSON line.

    python3 torch_side.py roi|dino IMAGES THREADS SMALL
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.ops as ops
import torchvision.transforms as T
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "fixtures"))
from vision_models import DinoViT, multiscale_boxes, small_torchvision_resnet, trunk  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def main():
    model, n, threads, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "true"
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    x, y = np.meshgrid(np.arange(800), np.arange(600))
    arr = np.stack([x * 255 // 799, y * 255 // 599, (x + y) % 256], -1).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")

    if model == "roi":
        from torchvision.models.resnet import Bottleneck
        S = 160 if small else 600
        net = small_torchvision_resnet(Bottleneck, [1, 1, 1, 1], 8) if small else torchvision.models.resnet152().eval()
        pre = T.Compose([T.Resize((S, S)), T.ToTensor(), T.Normalize(MEAN, STD)])
        boxes = multiscale_boxes(S)
        rois = torch.cat([torch.zeros(len(boxes), 1), boxes], 1)

        def extract(im):
            t = pre(im).unsqueeze(0)
            base = trunk(net, t, 3)
            pooled = ops.roi_align(base, rois, (14, 14), 1 / 16, 0, True)
            return net.layer4(pooled).mean((2, 3))
    else:
        S = 112 if small else 518
        m = (DinoViT(112, 14, 128, 2, 0, 0.1, False) if small else DinoViT(518, 14, 1024, 24, 0, 0.1, False)).eval()
        pre = T.Compose([T.Resize((S, S), interpolation=T.InterpolationMode.BICUBIC), T.ToTensor(), T.Normalize(MEAN, STD)])
        hw = S // 14

        def extract(im):
            t = pre(im).unsqueeze(0)
            tok = m.norm(m.forward_last(t))[0, 1:]
            fm = tok.t().reshape(1, -1, hw, hw)
            return F.interpolate(fm, size=(6, 6), mode="bilinear", align_corners=False)[0].flatten(1).t()

    with torch.no_grad():
        extract(img)
        start = time.perf_counter()
        for _ in range(n):
            extract(img)
        s = time.perf_counter() - start
    print(json.dumps({"images_per_s": n / s, "info": f"torch {torch.__version__}, torchvision {torchvision.__version__}"}))


if __name__ == "__main__":
    main()
