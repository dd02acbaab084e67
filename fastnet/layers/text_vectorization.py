"""keras.layers.TextVectorization: strings -> token indices (or multi-hot / count /
tf-idf vectors), on numpy string arrays.

The pipeline is Keras's: standardize ('lower_and_strip_punctuation', 'lower',
'strip_punctuation', None or a callable on one string) -> split ('whitespace',
'character', None or a callable) -> ngrams (joined with a space, all 1..n-grams for an int
n, the listed widths for a tuple) -> a StringLookup with ``mask_token=''`` and one OOV
index '[UNK]' (so in int mode 0 is padding and 1 is out-of-vocabulary). Bookkeeping over
Python strings: there is no kernel to write here.
"""

from __future__ import annotations

import re

import numpy as np

from fastnet.backend.tensor import Tensor
from fastnet.layers.hashing import _StringInputLayer
from fastnet.layers.preprocessing import StringLookup

# Keras's DEFAULT_STRIP_REGEX
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")


def _text(v, encoding):
    return v.decode(encoding) if isinstance(v, bytes) else str(v)


class TextVectorization(_StringInputLayer):
    """Maps strings to sequences of token indices or to per-string token vectors, as
    keras.layers.TextVectorization (``adapt`` learns the vocabulary, most frequent first)."""
    _convert_input_args = False  # raw data in any dtype, as Keras

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int",
                 output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None,
                 **kwargs):
        kwargs.pop("dtype", None)
        kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        if output_mode not in ("int", "multi_hot", "count", "tf_idf"):
            raise ValueError("TextVectorization: `output_mode` must be one of 'int', "
                             f"'multi_hot', 'count', 'tf_idf'. Received: output_mode={output_mode}")
        if not (standardize is None or callable(standardize) or standardize in _STANDARDIZE):
            raise ValueError(f"TextVectorization: `standardize` must be None, a callable or one "
                             f"of {_STANDARDIZE}. Received: standardize={standardize}")
        if not (split is None or callable(split) or split in _SPLIT):
            raise ValueError(f"TextVectorization: `split` must be None, a callable or one of "
                             f"{_SPLIT}. Received: split={split}")
        if ngrams is not None and not (isinstance(ngrams, int) and ngrams > 0) and not (
                isinstance(ngrams, (tuple, list)) and all(isinstance(n, int) and n > 0
                                                          for n in ngrams)):
            raise ValueError("TextVectorization: `ngrams` must be None, a positive integer, or a "
                             f"tuple of positive integers. Received: ngrams={ngrams}")
        if output_mode == "int" and not (output_sequence_length is None or (
                isinstance(output_sequence_length, int) and output_sequence_length > 0)):
            raise ValueError("TextVectorization: `output_sequence_length` must be None or a "
                             f"positive integer. Received: output_sequence_length="
                             f"{output_sequence_length}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError("`output_sequence_length` must not be set if `output_mode` is not "
                             f"'int'. Received: output_sequence_length={output_sequence_length}")
        if ragged:
            raise ValueError("TextVectorization: ragged=True (ragged outputs) is not supported "
                             "by fastnet")
        if sparse:
            raise ValueError("TextVectorization: sparse=True is not supported by fastnet")
        self.max_tokens = max_tokens
        self.standardize = standardize
        self.split = split
        self.ngrams = ngrams
        self._ngram_widths = None if ngrams is None else (
            tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else tuple(ngrams))
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self.pad_to_max_tokens = pad_to_max_tokens
        self.sparse = sparse
        self.ragged = ragged
        self.encoding = encoding
        self._lookup = StringLookup(max_tokens=max_tokens, mask_token="", oov_token="[UNK]",
                                    vocabulary=vocabulary, idf_weights=idf_weights,
                                    output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens,
                                    encoding=encoding, name=f"{self.name}_lookup")
        self.built = True

    # ---- the string pipeline -------------------------------------------------------------
    def _standardize_batch(self, strings):
        if self.standardize is None:
            return strings
        if callable(self.standardize):
            # As Keras on its non-TensorFlow backends: the callable gets the batch as a numpy
            # array of unicode strings and returns one string per element.
            out = self.standardize(np.asarray(strings, dtype=str))
            out = out.tolist() if hasattr(out, "tolist") else list(out)
            return [_text(t, self.encoding) for t in out]
        out = []
        for s in strings:
            if self.standardize in ("lower", "lower_and_strip_punctuation"):
                s = s.lower()
            if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
                s = _PUNCTUATION.sub("", s)
            out.append(s)
        return out

    def _split_batch(self, strings):
        if self.split is None:
            return [[s] for s in strings]
        if self.split == "whitespace":
            return [s.split() for s in strings]
        if self.split == "character":
            return [list(s) for s in strings]
        # A callable: on the batch (a numpy str array) giving one token sequence per
        # string, or, when it does not, on each string.
        try:
            out = self.split(np.asarray(strings, dtype=str))
        except Exception:  # noqa: BLE001  (a per-string callable)
            out = None
        rows = out.tolist() if hasattr(out, "tolist") else out
        if not (isinstance(rows, list) and len(rows) == len(strings) and
                all(isinstance(r, (list, tuple)) for r in rows)):
            rows = []
            for s in strings:
                r = self.split(s)
                rows.append(r.tolist() if hasattr(r, "tolist") else list(r))
        return [[_text(t, self.encoding) for t in r] for r in rows]

    def _ngrams_of(self, tokens):
        if self._ngram_widths is None:
            return tokens
        out = []
        for n in self._ngram_widths:
            out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
        return out

    def _strings(self, inputs):
        x = inputs._value if isinstance(inputs, Tensor) else inputs
        arr = np.asarray(x, dtype=object)
        scalar = arr.ndim == 0
        if scalar:
            arr = arr[None]
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            if self.split is not None:
                raise ValueError("TextVectorization: when `split` is set, inputs must be a batch "
                                 "of strings of shape (batch,) or (batch, 1). Received: inputs "
                                 f"of shape {arr.shape}")
        return arr, scalar

    def _tokenize(self, arr):
        """A list (per string) of token lists."""
        if arr.ndim != 1:  # split=None on pre-split tokens: each row is already tokens
            return [self._standardize_batch([_text(t, self.encoding) for t in row])
                    for row in arr.tolist()]
        strings = self._standardize_batch([_text(s, self.encoding) for s in arr.tolist()])
        return [self._ngrams_of(tokens) for tokens in self._split_batch(strings)]

    @staticmethod
    def _pad(rows, length=None):
        n = max((len(r) for r in rows), default=0) if length is None else length
        out = np.full((len(rows), n), "", dtype=object)
        for i, r in enumerate(rows):
            r = r[:n]
            out[i, :len(r)] = r
        return out

    # ---- vocabulary ----------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None):
        """Builds the vocabulary (and the idf weights) from strings: an array, a list or an
        iterable of batches (a PyDataset / generator yielding arrays or (x, y) tuples)."""
        if isinstance(data, (str, bytes)):
            data = [data]
        if isinstance(data, (list, tuple, np.ndarray, Tensor)):
            batches = [data]
        else:
            batches = data

        def token_batches():
            for i, batch in enumerate(batches):
                if steps is not None and i >= steps:
                    break
                b = batch[0] if isinstance(batch, tuple) else batch
                arr, _ = self._strings(b)
                yield self._pad(self._tokenize(arr))

        self._lookup.adapt(token_batches())

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup.set_vocabulary(vocabulary, idf_weights)

    def load_assets(self, dir_path):
        # a file written by Keras keeps an adapted vocabulary as an asset (fastnet's
        # config holds it): read it when the config had none
        if not self._lookup._tokens:
            self._lookup.load_assets(dir_path)

    # ---- call ----------------------------------------------------------------------------
    def call(self, inputs):
        arr, scalar = self._strings(inputs)
        tokens = self._pad(self._tokenize(arr),
                           self.output_sequence_length if self.output_mode == "int" else None)
        if self.output_mode == "int":
            out = self._lookup.call(tokens)
            out = out if isinstance(out, Tensor) else Tensor(np.asarray(out))
        else:
            out = self._lookup.call(tokens)
        return Tensor(out._value[0]) if scalar else out

    def compute_output_shape(self, input_shape):
        batch = tuple(input_shape)[:1] or (None,)
        if self.output_mode == "int":
            return batch + (self.output_sequence_length,)
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        return batch + (depth,)

    def _output_dtype(self, inputs):
        return "int64" if self.output_mode == "int" else "float32"

    def get_config(self):
        config = {**super().get_config(), "max_tokens": self.max_tokens,
                  "standardize": self.standardize if not callable(self.standardize) else
                  getattr(self.standardize, "__name__", None),
                  "split": self.split if not callable(self.split) else
                  getattr(self.split, "__name__", None),
                  "ngrams": self.ngrams, "output_mode": self.output_mode,
                  "output_sequence_length": self.output_sequence_length,
                  "pad_to_max_tokens": self.pad_to_max_tokens, "sparse": self.sparse,
                  "ragged": self.ragged, "encoding": self.encoding,
                  "vocabulary": self.get_vocabulary() if self._lookup._tokens else None,
                  "vocabulary_size": self.vocabulary_size()}
        if self.output_mode == "tf_idf" and self._lookup.idf_weights is not None:
            config["idf_weights"] = self._lookup.idf_weights[:self.vocabulary_size()].tolist()
        config.pop("dtype", None)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
