; Tag query for Swift, run by src/parse/tags.rs in a single pass. Written for
; swe-sleep; the shapes follow the tags.scm that tree-sitter-swift ships (MIT),
; in this project's capture names.
;
; Capture names:
;   @definition.<kind>  the defining node; <kind> is one of class struct enum
;                       interface impl function method type field variant (a
;                       node caught twice keeps the more specific kind: a
;                       function in a type's body is a method).
;   @name               the name of that definition (same pattern); for an
;                       extension (`impl`), the extended type.
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.swift       the module an `import` names.

; ---------------------------------------------------------------- definitions

(class_declaration declaration_kind: "class" name: (type_identifier) @name) @definition.class
(class_declaration declaration_kind: "actor" name: (type_identifier) @name) @definition.class
(class_declaration declaration_kind: "struct" name: (type_identifier) @name) @definition.struct
(class_declaration declaration_kind: "enum" name: (type_identifier) @name) @definition.enum
(class_declaration
  declaration_kind: "extension"
  name: (user_type (type_identifier) @name)) @definition.impl
(protocol_declaration name: (type_identifier) @name) @definition.interface
(typealias_declaration name: (type_identifier) @name) @definition.type
(function_declaration name: (simple_identifier) @name) @definition.function
(class_body (function_declaration name: (simple_identifier) @name) @definition.method)
(protocol_function_declaration name: (simple_identifier) @name) @definition.method
(class_body
  (property_declaration
    name: (pattern bound_identifier: (simple_identifier) @name)) @definition.field)
(enum_entry name: (simple_identifier) @name @definition.variant)

; ----------------------------------------------------------------- references

(call_expression . (simple_identifier) @reference.call)
(call_expression
  . (navigation_expression suffix: (navigation_suffix suffix: (simple_identifier) @reference.call)))
(navigation_suffix suffix: (simple_identifier) @reference.field)
(type_identifier) @reference.type

; -------------------------------------------------------------------- imports

(import_declaration (identifier) @import.swift)
