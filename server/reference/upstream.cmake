# Sources of the upstream reference, added to smeard_reference (owned by that module).
