; Tag query for C++, run by src/parse/tags.rs in a single pass. Written for
; swe-sleep; the shapes follow the tags.scm that tree-sitter-cpp ships (MIT),
; in this project's capture names.
;
; Capture names:
;   @definition.<kind>  the defining node; <kind> is one of function method
;                       class struct enum type module constant macro field
;                       variant (a node caught twice keeps the more specific
;                       kind: a function defined in a class body is a method).
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.include     the path of `#include "..."`, without its quotes.
;   @import.include_system  the path of `#include <...>`, with its brackets.
; Captures starting with `_` only feed predicates.

; ---------------------------------------------------------------- definitions

(function_definition
  declarator: (function_declarator declarator: (identifier) @name)) @definition.function
(function_definition
  declarator: [(pointer_declarator (function_declarator declarator: (identifier) @name))
               (reference_declarator (function_declarator declarator: (identifier) @name))]) @definition.function
(declaration
  declarator: (function_declarator declarator: (identifier) @name)) @definition.function

; `Type::name` outside the class, and functions declared or defined in a class body.
(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier name: (identifier) @name))) @definition.method
(function_definition
  declarator: [(pointer_declarator (function_declarator
                 declarator: (qualified_identifier name: (identifier) @name)))
               (reference_declarator (function_declarator
                 declarator: (qualified_identifier name: (identifier) @name)))]) @definition.method
(field_declaration_list
  (function_definition
    declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name)) @definition.method)
(field_declaration
  declarator: (function_declarator declarator: (field_identifier) @name)) @definition.method

(class_specifier name: (type_identifier) @name body: (_)) @definition.class
(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct
(union_specifier name: (type_identifier) @name body: (_)) @definition.struct
(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum
(type_definition declarator: (type_identifier) @name) @definition.type
(alias_declaration name: (type_identifier) @name) @definition.type
(namespace_definition name: (namespace_identifier) @name) @definition.module
(enumerator name: (identifier) @name) @definition.variant
(field_declaration declarator: (field_identifier) @name) @definition.field

(preproc_def name: (identifier) @name) @definition.constant
(preproc_function_def name: (identifier) @name) @definition.macro

; ----------------------------------------------------------------- references

(call_expression function: (identifier) @reference.call)
(call_expression function: (qualified_identifier name: (identifier) @reference.call))
(call_expression function: (field_expression field: (field_identifier) @reference.call))
(field_expression field: (field_identifier) @reference.field)
(type_identifier) @reference.type
((qualified_identifier scope: (namespace_identifier) @reference.scope)
  (#not-eq? @reference.scope "std"))

; -------------------------------------------------------------------- imports

(preproc_include path: (string_literal (string_content) @import.include))
(preproc_include path: (system_lib_string) @import.include_system)
