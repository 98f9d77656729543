"""The grade pipeline: a submission's runs in a sandboxed child (child, events, sandbox,
batch), compared with the spec's own math and scored (evaluate), diagnosed (diagnose) and
reported (report). Never imports harness.check."""
