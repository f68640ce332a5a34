#!/usr/bin/env python3
"""Times the same CLIP training step as `conaclip bench train-step` in PyTorch eager.

Run by hand (torch is a multi-gigabyte install; never in CI):

    conaclip bench train-step --model configs/models/student-64.yaml --batch 128 \
        --threads 1 --json --save-model /tmp/student-64
    python Tests/Reference/bench_torch_train_step.py /tmp/student-64 --batch 128 --threads 1

The step is what conaclip times: image and text forward, CLIP's symmetric
contrastive loss with the learnable logit scale, backward, global-norm
clipping and AdamW. Inputs are random pixels and random token ids padded to
the context length with the end-of-text token at a random position.
"""
import argparse
import json
import time

import torch
from transformers import CLIPModel


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = CLIPModel.from_pretrained(args.model_dir, attn_implementation="eager")
    model.train()
    vc, tc = model.config.vision_config, model.config.text_config
    n, ctx = args.batch, tc.max_position_embeddings
    pixels = torch.randn(n, 3, vc.image_size, vc.image_size)
    ids = torch.randint(0, min(tc.vocab_size, tc.eos_token_id if tc.eos_token_id > 0 else tc.vocab_size), (n, ctx))
    lengths = torch.randint(2, ctx, (n,))
    for i in range(n):
        ids[i, lengths[i]] = tc.eos_token_id
        ids[i, lengths[i] + 1:] = tc.pad_token_id
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)

    def step():
        opt.zero_grad(set_to_none=False)
        img = model.get_image_features(pixel_values=pixels)
        txt = model.get_text_features(input_ids=ids)
        img = getattr(img, "pooler_output", img)
        txt = getattr(txt, "pooler_output", txt)
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        scale = model.logit_scale.exp().clamp(max=100)
        logits = scale * img @ txt.t()
        labels = torch.arange(n)
        loss = 0.5 * (torch.nn.functional.cross_entropy(logits, labels)
                      + torch.nn.functional.cross_entropy(logits.t(), labels))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    best = min(times)
    median = sorted(times)[len(times) // 2]
    print(json.dumps({
        "framework": f"torch {torch.__version__}",
        "threads": args.threads,
        "batch": n,
        "step_seconds_median": median,
        "step_seconds_best": best,
        "pairs_per_second": n / median,
    }))


if __name__ == "__main__":
    main()
