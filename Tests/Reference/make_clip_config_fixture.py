#!/usr/bin/env python3
"""Writes the Hugging Face CLIP config fixtures that CheckpointTests.swift reads.

Run by hand from the repository root (never in CI; needs torch and transformers):

    /opt/refenv/bin/python Tests/Reference/make_clip_config_fixture.py

Output, in Tests/ConaclipModelsTests/Fixtures/:

- transformers-tiny-clip/{config.json,model.safetensors}: a tiny randomly initialised
  `transformers.CLIPModel` saved with `save_pretrained`, i.e. exactly the
  directory layout, config keys and tensor names transformers produces.
- config/legacy-layout.config.json: a config in the layout transformers 4.x
  wrote to the Hub for the OpenAI checkpoints (ViT-B/32 sizes, every
  generation key, `text_config_dict: null`, `torch_dtype`, `eos_token_id: 2`).
- config/dict-override.config.json: the LAION-style layout where a
  `text_config_dict` / `vision_config_dict` overrides `text_config`.
- config/defaults-only.config.json: only `model_type`, so every size comes
  from transformers' defaults.
- config/expected.json: for each config above, the values transformers
  resolves when it loads the file (`CLIPConfig.from_json_file`); the Swift
  reader must resolve the same values.
"""
import json
import os

import torch
import transformers
from transformers import CLIPConfig, CLIPModel

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "ConaclipModelsTests", "Fixtures")
TEXT_KEYS = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
             "max_position_embeddings", "hidden_act", "layer_norm_eps", "bos_token_id", "eos_token_id",
             "pad_token_id"]
VISION_KEYS = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "image_size",
               "patch_size", "num_channels", "hidden_act", "layer_norm_eps"]


def tiny_model():
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=64, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=8,
                         bos_token_id=62, eos_token_id=63, pad_token_id=63),
        vision_config=dict(hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                           image_size=16, patch_size=8, hidden_act="gelu"),
        projection_dim=4)
    model = CLIPModel(config)
    out = os.path.join(FIXTURES, "transformers-tiny-clip")
    model.save_pretrained(out)
    return os.path.join(out, "config.json")


GENERATION_KEYS = {
    "_name_or_path": "", "add_cross_attention": False, "architectures": None, "bad_words_ids": None,
    "chunk_size_feed_forward": 0, "decoder_start_token_id": None, "diversity_penalty": 0.0,
    "do_sample": False, "dropout": 0.0, "early_stopping": False, "id2label": {"0": "LABEL_0", "1": "LABEL_1"},
    "is_decoder": False, "is_encoder_decoder": False, "label2id": {"LABEL_0": 0, "LABEL_1": 1},
    "length_penalty": 1.0, "max_length": 20, "min_length": 0, "num_beams": 1, "output_attentions": False,
    "pruned_heads": {}, "return_dict": True, "temperature": 1.0, "top_k": 50, "top_p": 1.0,
    "torch_dtype": None, "torchscript": False, "transformers_version": "4.16.0.dev0", "use_bfloat16": False,
}


def legacy_layout():
    text = dict(GENERATION_KEYS, attention_dropout=0.0, bos_token_id=0, eos_token_id=2, pad_token_id=1,
                hidden_act="quick_gelu", hidden_size=512, initializer_factor=1.0, initializer_range=0.02,
                intermediate_size=2048, layer_norm_eps=1e-05, max_position_embeddings=77,
                model_type="clip_text_model", num_attention_heads=8, num_hidden_layers=12, projection_dim=512,
                vocab_size=49408)
    vision = dict(GENERATION_KEYS, attention_dropout=0.0, bos_token_id=None, eos_token_id=None, pad_token_id=None,
                  hidden_act="quick_gelu", hidden_size=768, image_size=224, initializer_factor=1.0,
                  initializer_range=0.02, intermediate_size=3072, layer_norm_eps=1e-05,
                  model_type="clip_vision_model", num_attention_heads=12, num_hidden_layers=12, patch_size=32,
                  projection_dim=512)
    return {
        "_name_or_path": "openai/clip-vit-base-patch32", "architectures": ["CLIPModel"],
        "initializer_factor": 1.0, "logit_scale_init_value": 2.6592, "model_type": "clip",
        "projection_dim": 512, "text_config": text, "text_config_dict": None, "torch_dtype": "float32",
        "transformers_version": None, "vision_config": vision, "vision_config_dict": None,
    }


def dict_override():
    return {
        "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 1024,
        "logit_scale_init_value": 2.6592, "torch_dtype": "float32",
        # Keys only in text_config (vocab_size, max_position_embeddings) are still
        # replaced: transformers expands the *_dict over all defaults first.
        "text_config": {"hidden_act": "quick_gelu", "hidden_size": 512, "num_attention_heads": 8,
                        "vocab_size": 1000, "max_position_embeddings": 64},
        "text_config_dict": {"hidden_act": "gelu", "hidden_size": 1024, "intermediate_size": 4096,
                             "num_attention_heads": 16, "num_hidden_layers": 24, "projection_dim": 1024},
        "vision_config": {"hidden_size": 768},
        "vision_config_dict": {"hidden_act": "gelu", "hidden_size": 1280, "image_size": 224,
                               "intermediate_size": 5120, "layer_norm_eps": 1e-05, "num_attention_heads": 16,
                               "num_hidden_layers": 32, "patch_size": 14, "projection_dim": 1024},
    }


def resolved(path):
    config = CLIPConfig.from_json_file(path)
    return {
        "projection_dim": config.projection_dim,
        "logit_scale_init_value": config.logit_scale_init_value,
        "text_config": {k: getattr(config.text_config, k) for k in TEXT_KEYS},
        "vision_config": {k: getattr(config.vision_config, k) for k in VISION_KEYS},
    }


def main():
    os.makedirs(os.path.join(FIXTURES, "config"), exist_ok=True)
    paths = {"transformers-tiny-clip/config.json": tiny_model()}
    for name, content in (("legacy-layout", legacy_layout()), ("dict-override", dict_override()),
                          ("defaults-only", {"model_type": "clip"})):
        path = os.path.join(FIXTURES, "config", f"{name}.config.json")
        with open(path, "w") as f:
            json.dump(content, f, indent=2, sort_keys=True)
            f.write("\n")
        paths[f"config/{name}.config.json"] = path
    expected = {"transformers_version": transformers.__version__}
    expected.update({name: resolved(path) for name, path in paths.items()})
    with open(os.path.join(FIXTURES, "config", "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
