/*
 * The query side of Jianbao's search: parse a query, load only the index shards that
 * hold its terms, let lunr.js 2.3.9 answer each term in its shard, and merge the answers
 * into exactly the scores one big lunr index would give. generator/search.py writes the
 * shards and holds the same procedure in Python (query_index); read its docstring for
 * why the merge is exact.
 *
 * Works in a browser (index files are <script>s, so file:// works) and in node (tests).
 * createEngine({lunr, tokenizer, load}) where load(path) returns a promise settled once
 * the script at path (relative to the site root) has run; those scripts call the
 * receiver's methods (engine.receiver is what the page exposes as window.JianbaoSearch).
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
  var DOCS = "search/docs/";
  var PHRASE = /"([^"]*)"|“([^”]*)”|「([^」]*)」|『([^』]*)』/g;

  function pad(number) {
    var text = String(number);
    while (text.length < 4) text = "0" + text;
    return text;
  }

  /*
   * A shard as written ([[term, [title postings], [body postings]], ...], the postings of
   * a field being: first document number, its weight, then for each further document the
   * gap from the previous number and its weight; weights in thousandths) turned into the
   * serialised lunr 2.3.9 index that lunr.Index.load reads: the inverted index, and each
   * document's field vectors restricted to this shard's terms. A term's vector dimension
   * (_index) is its position in the shard. generator/search.py (lunr_serialization) is
   * the same transformation in Python; the tests check that they agree and that it equals
   * what lunr.py builds.
   */
  function expand(entries, fields) {
    var invertedIndex = [];
    var vectors = {};
    var keys = [];
    entries.forEach(function (entry, position) {
      var posting = { _index: position };
      for (var f = 0; f < fields.length; f++) {
        var list = entry[f + 1];
        var refs = {};
        var number = 0;
        for (var i = 0; i < list.length; i += 2) {
          number += list[i];
          var ref = number.toString(36);
          refs[ref] = {};
          var key = fields[f] + "/" + ref;
          if (!vectors[key]) {
            vectors[key] = [];
            keys.push(key);
          }
          // An integer divided by 1000 is the double nearest to the three-place decimal,
          // the same number lunr.py's round(score, 3) gives.
          vectors[key].push(position, list[i + 1] / 1000);
        }
        posting[fields[f]] = refs;
      }
      invertedIndex.push([entry[0], posting]);
    });
    return {
      version: "2.3.9",
      fields: fields.slice(),
      fieldVectors: keys.map(function (key) { return [key, vectors[key]]; }),
      invertedIndex: invertedIndex,
      pipeline: [],
    };
  }

  function createEngine(options) {
    var lunr = options.lunr;
    var tokenizer = options.tokenizer;
    var load = options.load;
    var data = { manifest: null, facets: null, shards: {}, docs: {} };
    var indexes = {};
    var loading = {};

    var receiver = {
      manifest: function (value) { data.manifest = value; },
      facets: function (value) { data.facets = value; },
      shard: function (number, value) { data.shards[number] = value; },
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

    function shardIndex(number) {
      return manifest().then(function (m) {
        return once(INDEX + "shard-" + pad(number) + ".js").then(function () {
          if (!indexes[number]) {
            indexes[number] = lunr.Index.load(expand(data.shards[number], m.fields));
            delete data.shards[number];
          }
          return indexes[number];
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

    function expansionsIn(index, clause) {
      if (clause.kind === "prefix") {
        return index.tokenSet.intersect(lunr.TokenSet.fromString(clause.term + "*")).toArray();
      }
      return clause.term in index.invertedIndex ? [clause.term] : [];
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
        var jobs = parsed.clauses.map(function (clause) {
          return Promise.all(shardsFor(clause, m.shards).map(shardIndex));
        });
        return Promise.all(jobs).then(function (shardLists) {
          // Per clause, per shard: the expansions of the clause in that shard.
          var expanded = parsed.clauses.map(function (clause, c) {
            return shardLists[c].map(function (index) { return expansionsIn(index, clause); });
          });
          var keptRuns = {};
          var kept = [];
          parsed.clauses.forEach(function (clause, c) {
            var found = expanded[c].some(function (list) { return list.length > 0; });
            if (found || !parsed.droppable[clause.run]) {
              kept.push(c);
              keptRuns[clause.run] = true;
            }
          });
          for (var run in parsed.droppable) if (!keptRuns[run]) return empty;
          var queryVector = {};
          var numerators = {};
          var matched = {};
          for (var k = 0; k < kept.length; k++) {
            var c = kept[k];
            var clause = parsed.clauses[c];
            var any = false;
            var seen = {};
            shardLists[c].forEach(function (index, s) {
              var expansions = expanded[c][s];
              if (!expansions.length) return;
              any = true;
              expansions.forEach(function (term) { queryVector[term] = (queryVector[term] || 0) + 1; });
              var scale = Math.sqrt(expansions.length);
              var results = index.query(function (q) {
                q.term(clause.term, {
                  usePipeline: false,
                  wildcard: clause.kind === "prefix" ? lunr.Query.wildcard.TRAILING : lunr.Query.wildcard.NONE,
                });
              });
              results.forEach(function (result) {
                // lunr divided by the sub-query's length; undo it to get the dot product.
                numerators[result.ref] = (numerators[result.ref] || 0) + result.score * scale;
                if (!seen[result.ref]) {
                  seen[result.ref] = true;
                  matched[result.ref] = (matched[result.ref] || 0) + 1;
                }
              });
            });
            if (!any) return empty;
          }
          var magnitude = 0;
          for (var term in queryVector) magnitude += queryVector[term] * queryVector[term];
          magnitude = Math.sqrt(magnitude);
          var hits = [];
          for (var ref in matched) {
            if (matched[ref] === kept.length) hits.push({ ref: ref, score: numerators[ref] / magnitude });
          }
          hits.sort(function (a, b) {
            return b.score - a.score || parseInt(a.ref, 36) - parseInt(b.ref, 36);
          });
          return {
            parsed: parsed,
            kept: kept.map(function (c) { return parsed.clauses[c]; }),
            hits: hits,
          };
        });
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
      searchAll: searchAll,
      phrasesHold: phrasesHold,
      bodyText: bodyText,
      manifest: manifest,
      facets: facets,
      doc: doc,
    };
  }

  return { createEngine: createEngine, expand: expand };
});
