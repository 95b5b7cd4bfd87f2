; Tag query for TypeScript, run by src/parse/tags.rs in a single pass; TSX
; runs it followed by queries/tsx/tags.scm (JSX). Written for swe-sleep; the shapes follow
; the tags.scm that tree-sitter-typescript and tree-sitter-javascript ship
; (MIT), in this project's capture names.
;
; Capture names:
;   @definition.<kind>  the whole defining node (statement level, so the doc
;                       comment before it is found); <kind> is one of
;                       function method class interface enum type module
;                       constant field variant
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.module      the specifier of an ES import or export, a
;                       `require("...")` or a dynamic `import("...")`.
; Captures starting with `_` only feed predicates.

; ---------------------------------------------------------------- definitions

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function

(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @definition.function
(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function) (function_expression) (generator_function)])) @definition.function

(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class

(method_definition name: [(property_identifier) (private_property_identifier)] @name) @definition.method
(method_signature name: (property_identifier) @name) @definition.method
(abstract_method_signature name: (property_identifier) @name) @definition.method

(public_field_definition name: (property_identifier) @name) @definition.field

(interface_declaration name: (type_identifier) @name) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
(enum_body name: (property_identifier) @name @definition.variant)
(internal_module name: [(identifier) (nested_identifier)] @name) @definition.module
(module name: [(identifier) (nested_identifier)] @name) @definition.module

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
(extends_clause value: (identifier) @reference.class)
(type_identifier) @reference.type
(decorator (identifier) @reference.decorator)
(decorator (call_expression function: (identifier) @reference.decorator))

; -------------------------------------------------------------------- imports

(import_statement source: (string (string_fragment) @import.module))
(export_statement source: (string (string_fragment) @import.module))
(import_require_clause source: (string (string_fragment) @import.module))
(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @import.module))
  (#eq? @_require "require"))
(call_expression
  function: (import)
  arguments: (arguments . (string (string_fragment) @import.module)))
