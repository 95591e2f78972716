# Sources of the refclock reference, added to smeard_reference (owned by that module).
