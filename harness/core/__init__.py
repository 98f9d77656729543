"""The numpy-only core that check, grade and train share: the Spec, the Loss and Activation
records, canonical parameters and layouts, the spec's own math (net), optimizers in every
framework's convention, the Run record, the one comparison and the tolerance model.
Imports nothing else of the harness."""
