/*
 * The query side of Jianbao's search: parse a query, load only the index shards that
 * hold its terms, let lunr.js 2.3.9 answer each term over an index of that term alone
 * (rarer terms first, a frequent one over only the documents they matched), and merge
 * the answers into exactly the scores one big lunr index would give. generator/search.py
 * writes the shards and holds the same procedure in Python (query_index); read its
 * docstring for why the merge is exact.
 *
 * Works in a browser (index files are <script>s, so file:// works) and in node (tests).
 * createEngine({lunr, tokenizer, load}) where load(path) returns a promise settled once
 * the script at path (relative to the site root) has run; those scripts call the
 * receiver's methods (engine.receiver is what the page exposes as window.JianbaoSearch).
 * options.restrict: see RESTRICT.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.JianbaoEngine = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var INDEX = "search/index/";
  var ANSWERS = 256;
  // A clause is answered over only the documents the clauses before it matched when they
  // are at most its postings divided by this (see clauseAnswer).
  var RESTRICT = 2;
  var DOCS = "search/docs/";
  var PHRASE = /"([^"]*)"|“([^”]*)”|「([^」]*)」|『([^』]*)』/g;

  // A shard's file is named by its first term's UTF-8 bytes in hexadecimal, at most
  // NAME_BYTES of them, whole characters only (generator/search.py, shard_name).
  var NAME_BYTES = 30;
  function shardName(term) {
    var hex = "";
    var size = 0;
    for (var i = 0; i < term.length; i++) {
      var code = term.codePointAt(i);
      if (code > 0xffff) i++;
      var bytes = code < 0x80 ? [code]
        : code < 0x800 ? [0xc0 | (code >> 6), 0x80 | (code & 63)]
        : code < 0x10000 ? [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63)]
        : [0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63)];
      if (size + bytes.length > NAME_BYTES) break;
      size += bytes.length;
      bytes.forEach(function (b) { hex += (b < 16 ? "0" : "") + b.toString(16); });
    }
    return "s-" + hex;
  }

  // lunr 2.3.9's BM25 parameters (its defaults).
  var K1 = 1.2;
  var B = 0.75;
  var prepared = typeof WeakMap === "function" ? new WeakMap() : null;

  /*
   * What every shard of a manifest's index shares, made once: per field, per document
   * number, lunr's length normalisation k1 * (1 - b + b * length / average) (the lengths
   * are written in base 36, comma-separated, a hole's as nothing); and, as shards
   * need them, each document's ref and field refs ("body/1a"), so a shard with thousands
   * of postings makes no strings of its own.
   */
  function prepare(manifest) {
    var known = prepared && prepared.get(manifest);
    if (known) return known;
    var result = {
      norm: manifest.lengths.map(function (lengths, f) {
        var average = manifest.averages[f];
        return lengths.split(",").map(function (length) {
          return K1 * (1 - B + B * ((length ? parseInt(length, 36) : 0) / average));
        });
      }),
      refs: [],
      keys: manifest.fields.map(function () { return []; }),
    };
    if (prepared) prepared.set(manifest, result);
    return result;
  }

  /*
   * round(x, 3) as Python (and so lunr.py) computes it, for x >= 0: the double nearest to
   * the decimal nearest to x, a tie going to the even last digit. x * 1000 is off by far
   * less than a millionth, so it can only round the wrong way next to a half. There x's
   * decimal digits are read exactly (toFixed is exact; a double that is not a tie is more
   * than 1e-25 from one) and the tie rule applied: toFixed alone rounds ties up
   * (0.0625 -> 0.063, Python 0.062).
   */
  function round3(x) {
    var scaled = x * 1000;
    var whole = Math.floor(scaled);
    if (Math.abs(scaled - whole - 0.5) > 1e-6) return (scaled - whole < 0.5 ? whole : whole + 1) / 1000;
    var digits = x.toFixed(40);
    var point = digits.indexOf(".");
    var kept = Number(digits.slice(0, point) + digits.slice(point + 1, point + 4));
    var rest = digits.slice(point + 4);
    var up = rest[0] > "5" || (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || kept % 2 === 1));
    return (up ? kept + 1 : kept) / 1000;
  }

  /*
   * The field-vector element lunr stores for a term in a field: BM25 with lunr.py's
   * arithmetic in the same order (generator/search.py, field_weight), rounded to three
   * places, so it is the same double.
   */
  function weight(idf, frequency, norm, boost) {
    return round3(idf * ((K1 + 1) * frequency) / (norm + frequency) * boost);
  }

  /*
   * lunr 2.3.9's idf of a term held by count fields among documents, computed as
   * lunr.py computes it (generator/search.py, inverse_document_frequency): it is not
   * written in the shards, where it would change every entry whenever a document came
   * or went.
   */
  function idf(count, documents) {
    return Math.log(1 + Math.abs((documents - count + 0.5) / (count + 0.5)));
  }

  /*
   * A shard as written ([[term, [title postings], [body postings]], ...], the postings
   * of a field being: first document number, the term's frequency in it, then for each
   * further document the gap from the previous number and the frequency) turned into the
   * serialised lunr 2.3.9 index that lunr.Index.load reads: the inverted index, and each
   * document's field vectors restricted to this shard's terms, weighted with the idf
   * and the manifest's field lengths. A term's vector dimension (_index) is its position in the
   * shard. generator/search.py (lunr_serialization) is the same transformation in Python;
   * the tests check that they agree and that it equals what lunr.py builds. Given allowed
   * (document number -> truthy), only those documents' postings are kept.
   */
  function expand(entries, manifest, allowed) {
    var fields = manifest.fields;
    var boosts = manifest.boosts;
    var shared = prepare(manifest);
    var norm = shared.norm;
    var refs = shared.refs;
    var keys = shared.keys;
    var invertedIndex = [];
    // Per field, by document number: the document's vector; and [field, number] of each
    // vector in the order it was made.
    var vectors = fields.map(function () { return []; });
    var made = [];
    entries.forEach(function (entry, position) {
      var posting = { _index: position };
      var count = 0;
      for (var c = 1; c <= fields.length; c++) count += entry[c].length / 2;
      var termIdf = idf(count, manifest.documents);
      for (var f = 0; f < fields.length; f++) {
        var list = entry[f + 1];
        var found = {};
        var number = 0;
        for (var i = 0; i < list.length; i += 2) {
          number += list[i];
          if (allowed && !allowed[number]) continue;
          var ref = refs[number] || (refs[number] = number.toString(36));
          found[ref] = {};
          var vector = vectors[f][number];
          if (!vector) {
            vector = vectors[f][number] = [];
            made.push(f, number);
          }
          vector.push(position, weight(termIdf, list[i + 1], norm[f][number], boosts[f]));
        }
        posting[fields[f]] = found;
      }
      invertedIndex.push([entry[0], posting]);
    });
    var fieldVectors = [];
    for (var m = 0; m < made.length; m += 2) {
      var field = made[m], document = made[m + 1];
      var key = keys[field][document] || (keys[field][document] = fields[field] + "/" + refs[document]);
      fieldVectors.push([key, vectors[field][document]]);
    }
    return {
      version: "2.3.9",
      fields: fields.slice(),
      fieldVectors: fieldVectors,
      invertedIndex: invertedIndex,
      pipeline: [],
    };
  }

  function createEngine(options) {
    var lunr = options.lunr;
    var tokenizer = options.tokenizer;
    var load = options.load;
    // The tests set it to Infinity to compare with answers never restricted.
    var restrict = options.restrict || RESTRICT;
    var data = { manifest: null, facets: null, shards: {}, docs: {} };
    var loading = {};
    // Recent answers of one clause in one shard (see clauseAnswer), oldest first; and
    // those warm made, kept for good.
    var answers = new Map();
    var warmAnswers = new Map();

    var receiver = {
      manifest: function (value) { data.manifest = value; },
      facets: function (value) { data.facets = value; },
      shard: function (name, value) { data.shards[name] = value; },
      doc: function (ref, value) { data.docs[ref] = value; },
    };

    // Load a script once; later calls share the same promise.
    function once(path) {
      if (!loading[path]) {
        loading[path] = Promise.resolve(load(path)).catch(function (error) {
          delete loading[path];
          throw error;
        });
      }
      return loading[path];
    }

    function manifest() {
      return once(INDEX + "manifest.js").then(function () { return data.manifest; });
    }

    function facets() {
      return once(INDEX + "facets.js").then(function () { return data.facets; });
    }

    // The entries of the manifest's shard at place number, once its script has run.
    function shardEntries(number) {
      return manifest().then(function (m) {
        var name = shardName(m.shards[number]);
        return once(INDEX + name + ".js").then(function () { return data.shards[name]; });
      });
    }

    /*
     * A clause's expansions in a shard's entries (sorted in UTF-16 order, as JavaScript
     * compares strings): {key, terms, entries, cost}, cost being their postings in all
     * fields, key naming the clause in that shard for the answers kept.
     */
    function expansionsIn(entries, number, clause) {
      var low = 0, high = entries.length;
      while (low < high) {
        var middle = (low + high) >> 1;
        if (entries[middle][0] < clause.term) low = middle + 1; else high = middle;
      }
      var found = [];
      var cost = 0;
      for (var i = low; i < entries.length; i++) {
        var term = entries[i][0];
        if (clause.kind === "prefix" ? term.lastIndexOf(clause.term, 0) !== 0 : term !== clause.term) break;
        found.push(entries[i]);
        for (var f = 1; f < entries[i].length; f++) cost += entries[i][f].length / 2;
      }
      return {
        key: number + (clause.kind === "prefix" ? "*" : " ") + clause.term,
        terms: found.map(function (entry) { return entry[0]; }),
        entries: found,
        cost: cost,
      };
    }

    /*
     * lunr's answer to one clause over an index of only the clause's expansions in one
     * shard (and, given allowed, only those documents), as document numbers and dot
     * products. A document's lunr score for a term is the dot product of the query
     * vector with its field vector over the query's terms, divided by the query vector's
     * length: it depends on no other term or document, so this index gives each
     * document the score the whole shard's index (or one index of everything) would.
     * lunr divided by the square root of the number of expansions; multiplying gives
     * the product back.
     */
    function lunrAnswer(expansion, clause, m, allowed) {
      var index = lunr.Index.load(expand(expansion.entries, m, allowed));
      var scale = Math.sqrt(expansion.terms.length);
      var results = index.query(function (q) {
        q.term(clause.term, {
          usePipeline: false,
          wildcard: clause.kind === "prefix" ? lunr.Query.wildcard.TRAILING : lunr.Query.wildcard.NONE,
        });
      });
      var numbers = new Int32Array(results.length);
      var products = new Float64Array(results.length);
      for (var i = 0; i < results.length; i++) {
        numbers[i] = parseInt(results[i].ref, 36);
        products[i] = results[i].score * scale;
      }
      return { numbers: numbers, products: products };
    }

    var NOTHING = { numbers: new Int32Array(0), products: new Float64Array(0) };

    /*
     * A clause's answer in one shard. Kept for later queries with the same term (a query
     * typed a character at a time repeats its bigrams), the last ANSWERS of them. When
     * the documents every earlier clause matched (allowed: {count, numbers}) are few
     * beside the clause's postings, lunr answers over those documents alone: the same
     * scores for them (lunrAnswer), without building and querying thousands of postings
     * no result can hold. Such an answer is not kept.
     */
    function clauseAnswer(expansion, clause, m, allowed) {
      var known = warmAnswers.get(expansion.key) || answers.get(expansion.key);
      if (known) {
        if (answers.delete(expansion.key)) answers.set(expansion.key, known);
        return known;
      }
      if (allowed && allowed.count * restrict <= expansion.cost) {
        return allowed.count ? lunrAnswer(expansion, clause, m, allowed.numbers) : NOTHING;
      }
      var answer = lunrAnswer(expansion, clause, m, null);
      answers.set(expansion.key, answer);
      if (answers.size > ANSWERS) answers.delete(answers.keys().next().value);
      return answer;
    }

    /*
     * Load and answer the next of the manifest's preload shards (each holds one frequent
     * term), so a later query for it finds its answer ready. Resolves to whether one
     * remains. The page calls it in idle time after a search.
     */
    var warmed = 0;
    function warm() {
      return manifest().then(function (m) {
        var preload = m.preload || [];
        if (warmed >= preload.length) return false;
        var number = preload[warmed++];
        return shardEntries(number).then(function (entries) {
          entries.forEach(function (entry) {
            var clause = { term: entry[0], kind: "word" };
            var expansion = expansionsIn(entries, number, clause);
            if (!warmAnswers.has(expansion.key)) {
              warmAnswers.set(expansion.key, answers.get(expansion.key) || lunrAnswer(expansion, clause, m, null));
            }
          });
          return warmed < preload.length;
        });
      });
    }

    function doc(ref) {
      return once(DOCS + ref + ".js").then(function () { return data.docs[ref]; });
    }

    // The shard whose term range holds term: the last one whose first term is <= term.
    function shardOf(term, firsts) {
      var low = 0, high = firsts.length - 1;
      while (low < high) {
        var middle = (low + high + 1) >> 1;
        if (firsts[middle] <= term) low = middle; else high = middle - 1;
      }
      return low;
    }

    function shardsFor(clause, firsts) {
      var first = shardOf(clause.term, firsts);
      var last = clause.kind === "prefix" ? shardOf(clause.term + "\uffff", firsts) : first;
      var numbers = [];
      for (var n = first; n <= last; n++) numbers.push(n);
      return numbers;
    }

    function parse(text) {
      var normalized = tokenizer.normalize(text);
      var clauses = [];
      var droppable = {};
      var phrases = [];
      var run = 0;
      function add(segment, isPhrase) {
        var tokens = tokenizer.queryTokens(segment);
        var highest = -1;
        tokens.forEach(function (token) {
          clauses.push({ term: token.term, kind: token.kind, run: run + token.run });
          if (token.kind === "bigram" && !isPhrase) droppable[run + token.run] = true;
          highest = Math.max(highest, token.run);
        });
        run += highest + 1;
      }
      var position = 0;
      var match;
      PHRASE.lastIndex = 0;
      while ((match = PHRASE.exec(normalized)) !== null) {
        add(normalized.slice(position, match.index), false);
        var phrase = [match[1], match[2], match[3], match[4]].find(function (g) { return g !== undefined; });
        add(phrase, true);
        if (tokenizer.compact(phrase)) phrases.push(tokenizer.compact(phrase));
        position = match.index + match[0].length;
      }
      add(normalized.slice(position), false);
      return { clauses: clauses, droppable: droppable, phrases: phrases };
    }

    /*
     * Candidates of a query, best first: [{ref, score}], before any phrase is checked.
     * Also returns the parsed query and the terms kept (for highlighting).
     */
    function candidates(text) {
      var parsed = parse(text);
      var empty = { parsed: parsed, kept: [], hits: [] };
      if (!parsed.clauses.length) return Promise.resolve(empty);
      return manifest().then(function (m) {
        var numbers = parsed.clauses.map(function (clause) { return shardsFor(clause, m.shards); });
        var jobs = numbers.map(function (list) { return Promise.all(list.map(shardEntries)); });
        return Promise.all(jobs).then(function (shardLists) {
          // Per clause, per shard: the expansions of the clause in that shard.
          var expanded = parsed.clauses.map(function (clause, c) {
            return shardLists[c].map(function (entries, s) { return expansionsIn(entries, numbers[c][s], clause); });
          });
          var keptRuns = {};
          var kept = [];
          parsed.clauses.forEach(function (clause, c) {
            var found = expanded[c].some(function (expansion) { return expansion.terms.length > 0; });
            if (found || !parsed.droppable[clause.run]) {
              kept.push(c);
              keptRuns[clause.run] = true;
            }
          });
          for (var run in parsed.droppable) if (!keptRuns[run]) return empty;
          // The clauses with the fewest postings first, each answered over the documents
          // the ones before it matched (clauseAnswer); a clause found nowhere ends it.
          var cost = kept.map(function (c) {
            return expanded[c].reduce(function (sum, expansion) { return sum + expansion.cost; }, 0);
          });
          var order = kept.map(function (c, k) { return k; });
          order.sort(function (a, b) { return cost[a] - cost[b] || a - b; });
          var slots = prepare(m).norm[0].length;
          var answered = {};
          var allowed = null;
          for (var o = 0; o < order.length; o++) {
            var c = kept[order[o]];
            var parts = [];
            var last = o === order.length - 1;
            var matched = last ? null : { count: 0, numbers: new Uint8Array(slots) };
            for (var s = 0; s < expanded[c].length; s++) {
              var expansion = expanded[c][s];
              if (!expansion.terms.length) continue;
              var answer = clauseAnswer(expansion, parsed.clauses[c], m, allowed);
              parts.push({ terms: expansion.terms, answer: answer });
              if (last) continue;
              for (var i = 0; i < answer.numbers.length; i++) {
                var n = answer.numbers[i];
                if ((!allowed || allowed.numbers[n]) && !matched.numbers[n]) {
                  matched.numbers[n] = 1;
                  matched.count += 1;
                }
              }
            }
            if (!parts.length) return empty;
            answered[c] = parts;
            allowed = matched;
          }
          // Merged in the clauses' order, as one index would sum them.
          var queryVector = {};
          var numerators = new Float64Array(slots);
          var hitCounts = new Uint16Array(slots);
          var seen = new Uint16Array(slots);
          for (var k = 0; k < kept.length; k++) {
            answered[kept[k]].forEach(function (part) {
              part.terms.forEach(function (term) { queryVector[term] = (queryVector[term] || 0) + 1; });
              var answer = part.answer;
              for (var i = 0; i < answer.numbers.length; i++) {
                var n = answer.numbers[i];
                numerators[n] += answer.products[i];
                if (seen[n] !== k + 1) {
                  seen[n] = k + 1;
                  hitCounts[n] += 1;
                }
              }
            });
          }
          var magnitude = 0;
          for (var term in queryVector) magnitude += queryVector[term] * queryVector[term];
          magnitude = Math.sqrt(magnitude);
          var found = [];
          for (var number = 0; number < slots; number++) {
            if (hitCounts[number] === kept.length) found.push({ number: number, score: numerators[number] / magnitude });
          }
          found.sort(function (a, b) { return b.score - a.score || a.number - b.number; });
          var refs = prepare(m).refs;
          return {
            parsed: parsed,
            kept: kept.map(function (c) { return parsed.clauses[c]; }),
            hits: found.map(function (hit) {
              return { ref: refs[hit.number] || (refs[hit.number] = hit.number.toString(36)), score: hit.score };
            }),
          };
        });
      });
    }

    /*
     * Start loading the shards of a query's words and bigrams (not the range of a single
     * character, which may span several), without answering it: the page calls it as the
     * reader types, so that the answer, asked for a moment later, finds them loaded.
     */
    function prefetch(text) {
      var clauses = parse(text).clauses.filter(function (clause) { return clause.kind !== "prefix"; });
      if (!clauses.length) return Promise.resolve();
      return manifest().then(function (m) {
        return Promise.all(clauses.map(function (clause) { return shardEntries(shardOf(clause.term, m.shards)); }));
      });
    }

    // The body field as generator/search.py indexed it.
    function bodyText(record) {
      return [record.text, record.readings, record.meta].filter(function (part) { return part; }).join("\n\n");
    }

    // Does the document hold every quoted phrase of the query contiguously in one field?
    function phrasesHold(record, phrases) {
      var fields = [tokenizer.compact(record.headings), tokenizer.compact(bodyText(record))];
      return phrases.every(function (phrase) {
        return fields.some(function (field) { return field.indexOf(phrase) >= 0; });
      });
    }

    // Every hit of a query, phrases checked (loads the document of every candidate).
    function searchAll(text) {
      return candidates(text).then(function (answer) {
        if (!answer.parsed.phrases.length) return answer.hits;
        return Promise.all(answer.hits.map(function (hit) { return doc(hit.ref); })).then(function (records) {
          return answer.hits.filter(function (hit, i) { return phrasesHold(records[i], answer.parsed.phrases); });
        });
      });
    }

    return {
      receiver: receiver,
      parse: parse,
      candidates: candidates,
      prefetch: prefetch,
      warm: warm,
      searchAll: searchAll,
      phrasesHold: phrasesHold,
      bodyText: bodyText,
      manifest: manifest,
      facets: facets,
      doc: doc,
    };
  }

  return { createEngine: createEngine, expand: expand, weight: weight, idf: idf, shardName: shardName };
});
