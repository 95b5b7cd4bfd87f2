; Tag query for JavaScript (with JSX), run by src/parse/tags.rs in a single
; pass. Written for swe-sleep; the shapes follow the tags.scm that
; tree-sitter-javascript ships (MIT), in this project's capture names.
;
; Capture names:
;   @definition.<kind>  the whole defining node (statement level, so the doc
;                       comment before it is found); <kind> is one of
;                       function method class constant field
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.module      the specifier of an ES import or export, a
;                       `require("...")` or a dynamic `import("...")`.
; Captures starting with `_` only feed predicates.

; ---------------------------------------------------------------- definitions

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function

(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @definition.function
(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @definition.function

(class_declaration name: (identifier) @name) @definition.class

(method_definition name: [(property_identifier) (private_property_identifier)] @name) @definition.method
(field_definition property: (property_identifier) @name) @definition.field

; Top-level UPPER_CASE constants, exported or not.
(program
  (lexical_declaration
    (variable_declarator name: (identifier) @name)) @definition.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))
(program
  (export_statement
    declaration: (lexical_declaration
      (variable_declarator name: (identifier) @name)) @definition.constant)
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

; ----------------------------------------------------------------- references

((call_expression function: (identifier) @reference.call)
  (#not-eq? @reference.call "require"))
(call_expression
  function: (member_expression property: (property_identifier) @reference.call))
(new_expression constructor: (identifier) @reference.class)
(new_expression constructor: (member_expression property: (property_identifier) @reference.class))
(member_expression property: (property_identifier) @reference.field)
(class_heritage (identifier) @reference.class)
(decorator (identifier) @reference.decorator)
((jsx_opening_element name: (identifier) @reference.component)
  (#match? @reference.component "^[A-Z]"))
((jsx_self_closing_element name: (identifier) @reference.component)
  (#match? @reference.component "^[A-Z]"))

; -------------------------------------------------------------------- imports

(import_statement source: (string (string_fragment) @import.module))
(export_statement source: (string (string_fragment) @import.module))
(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @import.module))
  (#eq? @_require "require"))
(call_expression
  function: (import)
  arguments: (arguments . (string (string_fragment) @import.module)))
