; Tag query for Python, run by src/parse/tags.rs in a single pass.
;
; Capture names:
;   @definition.<kind>  the whole defining node; <kind> is one of
;                       function method class constant
;                       (the runner maps it to `DefKind`; when one node is
;                       captured as both function and method, method wins).
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> (call,
;                       attribute, class, type, decorator) is informative only.
;   @import.python      an `import` or `from ... import` statement
;                       (decoded in code).
; Definition name nodes are never reported as references.

; ---------------------------------------------------------------- definitions

(function_definition name: (identifier) @name) @definition.function

(class_definition
  body: (block
    [(function_definition name: (identifier) @name) @definition.method
     (decorated_definition
       definition: (function_definition name: (identifier) @name) @definition.method)]))

(class_definition name: (identifier) @name) @definition.class

; Module-level UPPER_CASE constants and `__all__`.
(module
  (expression_statement
    (assignment left: (identifier) @name) @definition.constant)
  (#match? @name "^([A-Z][A-Z0-9_]*|__all__)$"))

; ----------------------------------------------------------------- references

(call function: (identifier) @reference.call)
(call function: (attribute attribute: (identifier) @reference.call))
(attribute attribute: (identifier) @reference.attribute)
(class_definition superclasses: (argument_list (identifier) @reference.class))
(class_definition
  superclasses: (argument_list (attribute attribute: (identifier) @reference.class)))
(type (identifier) @reference.type)
(type (generic_type (identifier) @reference.type))
(decorator (identifier) @reference.decorator)

; -------------------------------------------------------------------- imports

(import_statement) @import.python
(import_from_statement) @import.python
