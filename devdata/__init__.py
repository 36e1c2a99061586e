"""Development data: the synthetic IMDb-shaped generator (devdata.synth) and the bundled-sample builder
(devdata.sample). Nothing in the pipeline imports it; the CLI's `synth` command and the tests do."""
