"""Case report forms defined as data (forms/*.yaml) and turned into WTForms
classes and a data dictionary."""
