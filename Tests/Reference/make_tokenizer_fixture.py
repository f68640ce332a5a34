#!/usr/bin/env python3
"""Reference ids for conaclip's CLIP tokenizer, from Hugging Face transformers.

Run by hand (never from Swift tests or CI), with the reference environment:

    # 1. (only when changing the corpus) write the training corpus
    /opt/refenv/bin/python Tests/Reference/make_tokenizer_fixture.py corpus
    # 2. (only when the corpus or the trainer changes) learn the vocabulary
    #    with conaclip's own BPETrainer; the test writes the four files into
    #    Tests/ConaclipModelsTests/Fixtures/tokenizer/ and passes
    CONACLIP_UPDATE_TOKENIZER_FIXTURE=1 swift test --filter TokenizerTrainerTests
    # 3. record what transformers' CLIPTokenizer does with that vocabulary
    /opt/refenv/bin/python Tests/Reference/make_tokenizer_fixture.py expected

Step 3 also writes the configuration variants under `configs/` (one
`tokenizer_config.json` / `special_tokens_map.json` set per directory, used
with the shared vocab.json + merges.txt) and a tiny hand-written vocabulary
under `tiny/` that lacks most byte symbols (unknown-token path) and has
out-of-order and duplicate merges. For every vocabulary/config it loads
`CLIPTokenizer.from_pretrained(dir)` (transformers 5: the Rust `tokenizers`
backend, the only CLIP tokenizer it has) and records the special ids,
`len(tokenizer)`, the ids of each test string, the padded/truncated batch
for several context lengths, and `decode` with and without special tokens.
Everything is deterministic: two runs give identical files.
"""

import json
import os
import random
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "ConaclipModelsTests", "Fixtures", "tokenizer")
VOCAB_FILES = ["vocab.json", "merges.txt"]

# ---------------------------------------------------------------------------
# Step 1: the corpus the fixture vocabulary is learned from.

SUBJECTS = ["a dog", "the cat", "two children", "an old man", "a young woman", "three birds", "my friend",
            "the chef", "a group of people", "the little girl", "A Brown Horse", "THE TEAM", "someone",
            "a photographer", "the baby elephant", "Our neighbours", "a street musician", "the robot"]
VERBS = ["is sitting on", "runs across", "looks at", "is holding", "jumps over", "plays with", "walks along",
         "is eating", "stands next to", "rides", "is painting", "waits near", "sleeps under", "climbs"]
OBJECTS = ["a red ball", "the wooden bench", "a bowl of soup", "the snowy mountain", "a bicycle",
           "the blue door", "a cup of coffee", "the river bank", "an umbrella", "the kitchen table",
           "a pile of books", "the city street", "a birthday cake", "the garden fence", "a skateboard"]
PLACES = ["in the park", "at the beach", "in Paris", "near the station", "on a rainy day", "at night",
          "in Zürich", "in São Paulo", "at the café", "in 東京", "during the festival", "in the snow"]
EXTRAS = ["", "", "", "!", "?", "...", " :)", " 🎉", " 🐶", " ❤️", " (photo)", " #travel", " @home",
          " - 2019", " in 4K", " x3", " — wow", ", isn't it?", " they're happy.", " it's fun!",
          " we've seen it", " I'm here", " you'll see", " he'd agree", " don't stop"]
FREE = [
    "A close-up photo of a résumé on a desk.",
    "Naïve art: a painting of a façade with 12 windows.",
    "The price is $3.50, or €3 — cheaper than £4!",
    "Email me at someone@example.com, or visit https://example.com/a?b=c.",
    "我爱北京天安门 and a cat",
    "한국어 캡션: 고양이가 소파 위에 있다",
    "Привет, мир! Кошка спит.",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "สวัสดีครับ",
    "Ελληνικά: ΟΔΥΣΣΕΥΣ και σοφός",
    "Straße, Maß, İstanbul, ǅemal",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 100 and 1,000,000",
    "½ cup of sugar, ² squared, Ⅻ o'clock",
    "ROCK'N'ROLL IS HERE TO STAY",
    "well-known, state-of-the-art, e-mail, re-enter",
    "tabs\tand\nnew lines   and    spaces",
    "emoji party 🎉🎉🎉 with 👩‍👩‍👧 and 🇫🇷",
    "C++ and C# and F# are languages; so is Python 3.12.",
    "<html><body>not really html</body></html>",
]


def make_corpus():
    rng = random.Random(20260611)
    lines = list(FREE)
    while len(lines) < 400:
        s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        if rng.random() < 0.6:
            s += " " + rng.choice(PLACES)
        s += rng.choice(EXTRAS)
        if rng.random() < 0.3:
            s = s[0].upper() + s[1:]
        if rng.random() < 0.1:
            s = s.upper()
        lines.append(s)
    os.makedirs(FIXTURE, exist_ok=True)
    with open(os.path.join(FIXTURE, "corpus.txt"), "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line.replace("\n", " ").replace("\t", " ") + "\n")
    print(f"wrote {len(lines)} lines to corpus.txt")


# ---------------------------------------------------------------------------
# Step 3: the hard strings and what transformers makes of them.

TEXTS = [
    "a photo of a cat",
    "A Photo Of A CAT!!!",
    "  leading and trailing   spaces  ",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u3000ideographic\u2028line\u0085nel",
    "it's, don't, we're, they've, I'm, you'll, he'd",
    "IT'S DON'T WE'RE THEY'VE I'M YOU'LL HE'D",
    "''s 'x 'S ' s '' 'll' 're're",
    "rock'n'roll isn't ain't",
    "numbers 1234567890 and 3.14159 and ½ ⅔ ² Ⅻ ٣ ໓ 𝟘",
    "Café naïve résumé Zürich São Paulo façade",
    "cafe\u0301 versus caf\u00e9 and A\u030a",
    "\u212b \u2126 \u00c5ngstr\u00f6m",
    "İstanbul ΣΟΦΟΣ ὈΔΥΣΣΕΎΣ straße ǅemal ǲ Ǳ",
    "東京タワーと富士山の写真",
    "我爱北京天安门",
    "한국어 텍스트 \u1100\u1161\u11a8 \uc2a4\u11a8",  # L+V+T and LV+T compose under NFC
    "dives akuru \U00011935\U00011930 stays apart",  # tokenizers' NFC does not compose these two
    "emoji 🐶🐱 🎉🎉 👩‍👩‍👧 🇫🇷 ❤️ ☺︎",
    "hello<|endoftext|>world",
    "<|startoftext|>a photo<|endoftext|>",
    "<|ENDOFTEXT|> upper <|StartOfText|>",
    "<|endoftext and <|endoftext|",
    "x <|endoftext|> y<|startoftext|>z",
    "!<|endoftext|>! and a<|startoftext|>b",
    "new Unicode 17 letter \u088f and digit \U00011de0",
    "control\u0000chars\u0007\u001c\u001f\u200b\u00ad\ufeff",
    "\ufffd replacement and private \ue000 and nonchar \uffff",
    "https://example.com/path?q=1&x=2#frag",
    "math: a+b=c; x<y>z; {[()]}",
    "$100.00 €50 £30 ¥1000",
    "email@example.com #hashtag @mention",
    "!!!???...---___",
    "mixed123numbers456abc",
    "مرحبا بالعالم و שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีครับ",
    "photo gr8 <photo> [MASK] x[MASK]y <|sep|>",
    "\u088f[MASK]\u0c5c [MASK]\u0301 _[MASK] 9[MASK]",  # single_word: Unicode 17 letters are not word characters there
    "A photo of a dog sitting on a bench in the park.",
    "",
    " ",
    "\n\t\n",
    "a" * 300,
    " ".join(["a very long caption about a dog and a cat playing in the park"] * 12),
]

CONTEXT_LENGTHS = [3, 8, 24]

CONFIGS = {
    # Exactly what BPETrainer writes (the fixture directory itself).
    "trainer": None,
    # No configuration files at all: CLIPTokenizer's defaults.
    "none": {},
    # OpenAI's openai/clip-vit-* style: bos is matched on normalised text.
    "openai": {
        "tokenizer_config.json": {
            "add_prefix_space": False,
            "added_tokens_decoder": {
                "@BOS": {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False,
                         "single_word": False, "special": True},
                "@EOS": {"content": "<|endoftext|>", "lstrip": False, "normalized": False, "rstrip": False,
                         "single_word": False, "special": True},
            },
            "bos_token": "<|startoftext|>", "clean_up_tokenization_spaces": False, "do_lower_case": True,
            "eos_token": "<|endoftext|>", "errors": "replace", "model_max_length": 77,
            "pad_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer", "unk_token": "<|endoftext|>",
        },
    },
    # Older layout: no added_tokens_decoder, AddedToken dicts, pad "!" (as
    # OpenCLIP conversions have), and a special_tokens_map.json that overrides.
    "legacy": {
        "tokenizer_config.json": {
            "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>", "lstrip": False,
                          "normalized": True, "rstrip": False, "single_word": False},
            "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False,
                          "normalized": True, "rstrip": False, "single_word": False},
            "unk_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False,
                          "normalized": True, "rstrip": False, "single_word": False},
            "pad_token": "<|endoftext|>", "model_max_length": 77, "do_lower_case": True,
            "tokenizer_class": "CLIPTokenizer",
        },
        "special_tokens_map.json": {
            "bos_token": {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False,
                          "single_word": False},
            "eos_token": {"content": "<|endoftext|>", "lstrip": True, "normalized": True, "rstrip": True,
                          "single_word": False},
            "pad_token": "!",
            "unk_token": "<|endoftext|>",
        },
    },
    # Extra added tokens with every flag: non-special, lstrip/rstrip, single_word,
    # normalized, content outside the vocabulary (new ids), additional specials.
    "extra": {
        "tokenizer_config.json": {
            "added_tokens_decoder": {
                "@BOS": {"content": "<|startoftext|>", "lstrip": False, "normalized": False, "rstrip": False,
                         "single_word": False, "special": True},
                "@EOS": {"content": "<|endoftext|>", "lstrip": False, "normalized": False, "rstrip": False,
                         "single_word": False, "special": True},
                "@N+0": {"content": "<photo>", "lstrip": True, "normalized": False, "rstrip": True,
                         "single_word": False, "special": False},
                "@N+1": {"content": "[MASK]", "lstrip": False, "normalized": False, "rstrip": False,
                         "single_word": True, "special": True},
                "@N+2": {"content": "GR8", "lstrip": False, "normalized": True, "rstrip": False,
                         "single_word": False, "special": False},
            },
            "additional_special_tokens": ["<|sep|>"],
            "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>", "model_max_length": 16, "tokenizer_class": "CLIPTokenizer",
        },
    },
}


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def write_tiny(directory):
    """A hand-written vocabulary without most byte symbols, out-of-order and duplicate merges."""
    alphabet = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("!.,'<>|")
    vocab = alphabet + [c + "</w>" for c in alphabet]
    merges = [
        ("h", "e"), ("he", "llo</w>"),  # uses "llo</w>" before it is built below
        ("l", "l"), ("l", "o</w>"), ("ll", "o</w>"), ("l", "lo</w>"),  # two ways to "llo</w>"
        ("c", "a"), ("ca", "t</w>"), ("a", "t</w>"), ("c", "at</w>"),  # "cat</w>" twice
        ("t", "h"), ("th", "e</w>"), ("a", "a"), ("aa", "a"), ("a", "aa"), ("a", "a"),  # duplicate pair
    ]
    for a, b in merges:
        if a + b not in vocab:
            vocab.append(a + b)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


TINY_TEXTS = ["hello the cat", "Hello, THE Cat!", "caat cat aaaa aaaaa", "héllo wörld ☕", "llo ll l",
              "<|endoftext|>hello", "tab\tcat", ""]


def resolve_ids(config, vocab_size):
    """Replace the '@BOS', '@EOS', '@N+k' placeholders of added_tokens_decoder with real ids."""
    config = json.loads(json.dumps(config))
    tc = config.get("tokenizer_config.json")
    if tc and "added_tokens_decoder" in tc:
        decoder = {}
        for key, value in tc["added_tokens_decoder"].items():
            if key == "@BOS":
                key = str(vocab_size - 2)
            elif key == "@EOS":
                key = str(vocab_size - 1)
            else:
                key = str(vocab_size + int(key[3:]))
            decoder[key] = value
        tc["added_tokens_decoder"] = decoder
    return config


def record(directory, texts):
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(directory)
    assert tok.is_fast, "transformers 5 CLIPTokenizer is expected to be the tokenizers-backed one"
    out = {
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
        "unk_token_id": tok.unk_token_id,
        "length": len(tok),
        "special_ids": sorted(tok.all_special_ids),
        "cases": [],
    }
    for text in texts:
        ids = tok(text)["input_ids"]
        case = {
            "text": text,
            "ids": ids,
            "decoded": tok.decode(ids, skip_special_tokens=True),
            "decoded_with_special": tok.decode(ids, skip_special_tokens=False),
            "padded": {},
        }
        for n in CONTEXT_LENGTHS:
            batch = tok([text], truncation=True, max_length=n, padding="max_length")["input_ids"][0]
            assert len(batch) == n
            case["padded"][str(n)] = batch
        out["cases"].append(case)
    # decode of arbitrary id lists: partial UTF-8 sequences, ids past the end.
    extra = []
    vocab = tok.get_vocab()
    b2u = bytes_to_unicode()
    first_byte_of_e_acute = b2u[0xC3]
    lists = [[vocab.get(first_byte_of_e_acute, 0)], [vocab.get(b2u[0xE2], 0), vocab.get(b2u[0x82], 0)],
             [tok.bos_token_id, tok.eos_token_id, tok.pad_token_id], [len(tok) + 5, 0, 1, 2]]
    for ids in lists:
        try:
            extra.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True),
                          "decoded_with_special": tok.decode(ids, skip_special_tokens=False)})
        except Exception as error:  # an id transformers refuses: leave the case out
            print(f"  skipping decode of {ids}: {error}")
    out["decode_cases"] = extra
    return out


def make_expected():
    import tokenizers
    import transformers

    for name in VOCAB_FILES + ["tokenizer_config.json", "special_tokens_map.json"]:
        if not os.path.exists(os.path.join(FIXTURE, name)):
            sys.exit(f"missing {name}: run step 2 (the Swift trainer test with CONACLIP_UPDATE_TOKENIZER_FIXTURE=1) first")
    with open(os.path.join(FIXTURE, "vocab.json"), encoding="utf-8") as f:
        vocab_size = len(json.load(f))

    result = {
        "generator": "Tests/Reference/make_tokenizer_fixture.py",
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "context_lengths": CONTEXT_LENGTHS,
        "configs": {},
    }
    configs_root = os.path.join(FIXTURE, "configs")
    shutil.rmtree(configs_root, ignore_errors=True)
    for name, files in CONFIGS.items():
        with tempfile.TemporaryDirectory() as tmp:
            for vf in VOCAB_FILES:
                shutil.copy(os.path.join(FIXTURE, vf), tmp)
            if files is None:
                for cf in ["tokenizer_config.json", "special_tokens_map.json"]:
                    shutil.copy(os.path.join(FIXTURE, cf), tmp)
            else:
                files = resolve_ids(files, vocab_size)
                target = os.path.join(configs_root, name)
                os.makedirs(target, exist_ok=True)
                with open(os.path.join(target, ".keep"), "w") as f:
                    f.write("configuration files for this variant (none for 'none')\n")
                for cf, content in files.items():
                    for d in (tmp, target):
                        with open(os.path.join(d, cf), "w", encoding="utf-8") as f:
                            json.dump(content, f, indent=2, ensure_ascii=False)
                            f.write("\n")
            print(f"config {name}")
            result["configs"][name] = record(tmp, TEXTS)

    tiny = os.path.join(FIXTURE, "tiny")
    shutil.rmtree(tiny, ignore_errors=True)
    write_tiny(tiny)
    print("tiny vocabulary")
    result["tiny"] = record(tiny, TINY_TEXTS)

    text = json.dumps(result, indent=1, ensure_ascii=True)
    # Lists of ids on one line each, to keep the file small and diffable.
    text = re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]", text)
    with open(os.path.join(FIXTURE, "expected.json"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print("wrote expected.json")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "expected"
    if command == "corpus":
        make_corpus()
    elif command == "expected":
        make_expected()
    else:
        sys.exit("usage: make_tokenizer_fixture.py [corpus|expected]")
