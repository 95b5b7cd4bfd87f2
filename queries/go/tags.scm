; Tag query for Go, run by src/parse/tags.rs in a single pass. Written for
; swe-sleep; the shapes follow the tags.scm that tree-sitter-go ships (MIT),
; in this project's capture names.
;
; Capture names:
;   @definition.<kind>  the defining node; <kind> is one of function method
;                       struct interface type constant field (a `type_spec`
;                       caught as `type` and as `struct` or `interface` is the
;                       latter).
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.go          the path of an import spec, without its quotes.

; ---------------------------------------------------------------- definitions

(function_declaration name: (identifier) @name) @definition.function
(method_declaration name: (field_identifier) @name) @definition.method
(method_elem name: (field_identifier) @name) @definition.method

(type_spec name: (type_identifier) @name) @definition.type
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
(type_alias name: (type_identifier) @name) @definition.type

(field_declaration name: (field_identifier) @name) @definition.field
(const_spec name: (identifier) @name) @definition.constant

; ----------------------------------------------------------------- references

(call_expression function: (identifier) @reference.call)
(call_expression function: (selector_expression field: (field_identifier) @reference.call))
(selector_expression field: (field_identifier) @reference.field)
(type_identifier) @reference.type

; -------------------------------------------------------------------- imports

(import_spec path: (interpreted_string_literal (interpreted_string_literal_content) @import.go))
(import_spec path: (raw_string_literal (raw_string_literal_content) @import.go))
