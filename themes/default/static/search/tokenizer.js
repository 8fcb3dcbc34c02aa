/*
 * The search tokenizer, the same specification as generator/tokenizer.py (read the
 * specification there). The index is built in Python and queried here, so the two must
 * agree exactly; tests/fixtures/tokenizer_vectors.json is run against both.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.JianbaoTokenizer = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var HAN_RANGES = [
    [0x3005, 0x3005],
    [0x3007, 0x3007],
    [0x3400, 0x4dbf],
    [0x4e00, 0x9fff],
    [0xf900, 0xfaff],
    [0x20000, 0x3ffff],
  ];
  var FOLDS = { "ß": "ss", "ς": "σ" };
  var WORD_CHAR = /^[\p{L}\p{N}\p{M}]$/u;
  var DECIMAL = /^\p{Nd}$/u;
  var SPACE = /^[\t\n\v\f\r\p{Z}]$/u;

  function normalize(text) {
    var lowered = text.normalize("NFKC").toLowerCase();
    var out = "";
    for (var char of lowered) out += FOLDS[char] || char;
    return out;
  }

  function isHan(char) {
    var code = char.codePointAt(0);
    for (var i = 0; i < HAN_RANGES.length; i++) {
      if (code >= HAN_RANGES[i][0] && code <= HAN_RANGES[i][1]) return true;
    }
    return false;
  }

  function isWordChar(char) {
    return WORD_CHAR.test(char) && !isHan(char);
  }

  function isSpace(char) {
    return SPACE.test(char);
  }

  // Han runs and word runs of normalised text, as arrays of code points.
  function runs(text) {
    var chars = Array.from(text);
    var result = [];
    var kind = null;
    var current = [];
    for (var position = 0; position < chars.length; position++) {
      var char = chars[position];
      var charKind;
      if (isHan(char)) {
        charKind = "han";
      } else if (isWordChar(char)) {
        charKind = "word";
      } else if (
        char === "." &&
        kind === "word" &&
        DECIMAL.test(current[current.length - 1]) &&
        position + 1 < chars.length &&
        DECIMAL.test(chars[position + 1])
      ) {
        // A decimal point inside a number: 14.7 is one token.
        current.push(char);
        continue;
      } else {
        charKind = null;
      }
      if (charKind !== kind && current.length) {
        result.push({ kind: kind, chars: current });
        current = [];
      }
      kind = charKind;
      if (charKind !== null) current.push(char);
    }
    if (current.length && kind !== null) result.push({ kind: kind, chars: current });
    return result;
  }

  function bigrams(chars) {
    var out = [];
    for (var i = 0; i + 1 < chars.length; i++) out.push(chars[i] + chars[i + 1]);
    return out;
  }

  function indexTokens(text) {
    var tokens = [];
    runs(normalize(text)).forEach(function (run) {
      if (run.kind === "word") {
        tokens.push(run.chars.join(""));
      } else {
        Array.prototype.push.apply(tokens, bigrams(run.chars));
        tokens.push(run.chars[run.chars.length - 1]);
      }
    });
    return tokens;
  }

  function queryTokens(text) {
    var tokens = [];
    runs(normalize(text)).forEach(function (run, number) {
      if (run.kind === "word") {
        tokens.push({ term: run.chars.join(""), kind: "word", run: number });
      } else if (run.chars.length === 1) {
        tokens.push({ term: run.chars[0], kind: "prefix", run: number });
      } else {
        bigrams(run.chars).forEach(function (bigram) {
          tokens.push({ term: bigram, kind: "bigram", run: number });
        });
      }
    });
    return tokens;
  }

  function compact(text) {
    var out = "";
    for (var char of normalize(text)) if (!isSpace(char)) out += char;
    return out;
  }

  return {
    normalize: normalize,
    isHan: isHan,
    isSpace: isSpace,
    indexTokens: indexTokens,
    queryTokens: queryTokens,
    compact: compact,
  };
});
