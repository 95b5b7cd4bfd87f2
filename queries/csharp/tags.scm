; Tag query for C#, run by src/parse/tags.rs in a single pass. Written for
; swe-sleep; the shapes follow the tags.scm that tree-sitter-c-sharp ships
; (MIT), in this project's capture names.
;
; Capture names:
;   @definition.<kind>  the defining node; <kind> is one of class interface
;                       struct enum module method field constant variant
;                       (a node caught twice keeps the more specific kind).
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.namespace   the namespace a `using` directive names.
; Captures starting with `_` only feed predicates.

; ---------------------------------------------------------------- definitions

(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(struct_declaration name: (identifier) @name) @definition.struct
(enum_declaration name: (identifier) @name) @definition.enum
(enum_member_declaration name: (identifier) @name) @definition.variant
(delegate_declaration name: (identifier) @name) @definition.type
(namespace_declaration name: [(identifier) (qualified_name)] @name) @definition.module
(file_scoped_namespace_declaration name: [(identifier) (qualified_name)] @name) @definition.module
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(property_declaration name: (identifier) @name) @definition.field
(field_declaration (variable_declaration (variable_declarator name: (identifier) @name))) @definition.field
((field_declaration
   (modifier) @_const
   (variable_declaration (variable_declarator name: (identifier) @name))) @definition.constant
  (#eq? @_const "const"))

; ----------------------------------------------------------------- references

(invocation_expression function: (identifier) @reference.call)
(invocation_expression function: (member_access_expression name: (identifier) @reference.call))
((member_access_expression expression: (identifier) @reference.class)
  (#match? @reference.class "^[A-Z]"))
(member_access_expression name: (identifier) @reference.field)
(object_creation_expression type: (identifier) @reference.class)
(_ type: (identifier) @reference.type)
(_ returns: (identifier) @reference.type)
(base_list (identifier) @reference.type)
(generic_name (identifier) @reference.type)
(type_argument_list (identifier) @reference.type)
(attribute name: (identifier) @reference.attribute)

; -------------------------------------------------------------------- imports

(using_directive [(identifier) (qualified_name)] @import.namespace)
