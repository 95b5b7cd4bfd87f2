; Tag query for Java, run by src/parse/tags.rs in a single pass. Written for
; swe-sleep; the shapes follow the tags.scm that tree-sitter-java ships (MIT),
; in this project's capture names.
;
; Capture names:
;   @definition.<kind>  the defining node; <kind> is one of class interface
;                       enum type method field constant variant
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.qualified   an import declaration (decoded in code: the dotted
;                       name, and whether it ends with `.*`).

; ---------------------------------------------------------------- definitions

(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(annotation_type_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.class
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(enum_constant name: (identifier) @name) @definition.variant
(field_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.field
((field_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

; ----------------------------------------------------------------- references

(method_invocation name: (identifier) @reference.call)
((method_invocation object: (identifier) @reference.class)
  (#match? @reference.class "^[A-Z]"))
(object_creation_expression type: (type_identifier) @reference.class)
(field_access field: (identifier) @reference.field)
(type_identifier) @reference.type
(marker_annotation name: (identifier) @reference.annotation)
(annotation name: (identifier) @reference.annotation)

; -------------------------------------------------------------------- imports

(import_declaration) @import.qualified
