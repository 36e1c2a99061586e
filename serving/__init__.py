"""Delta → PostgreSQL: the serving tables defined once (serving.tables), publish (serving.publish) and the
roles and GRANTs (serving.roles, roles.sql)."""
