"""Normalize: raw article fields -> readable text (for people) and a match key (for fingerprints).

`text.normalize_text` is the stage; the other modules are its parts, one concern each:
`arabic` (letter folding), `boilerplate` (syndication chrome), `html_text` (HTML to text),
`urls` (canonical URLs), `timestamps` (publication times), `language` (language detection),
`normal_forms` (quick Unicode normal-form checks), `char_classes` (the Unicode character classes
the rules are built from, generated once).
Pure functions: no I/O, no clocks, no globals beyond tables built once.
"""
