; JSX additions to the TypeScript tag query for TSX files: the runner
; compiles queries/typescript/tags.scm followed by this file against the TSX
; grammar (the TypeScript grammar has no JSX nodes). Same capture names.

; Components used as elements (lower-case names are HTML tags).
((jsx_opening_element name: (identifier) @reference.component)
  (#match? @reference.component "^[A-Z]"))
((jsx_self_closing_element name: (identifier) @reference.component)
  (#match? @reference.component "^[A-Z]"))
