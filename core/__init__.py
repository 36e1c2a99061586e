"""What every stage shares: settings (core.config), the one Thrift session (core.thrift), the status rows
(core.status), the pipeline lease (core.lease) and the Spark UI reader (core.spark_ui). Imports nothing above it."""
