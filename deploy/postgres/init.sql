-- One PostgreSQL for the compose stack, one database per Ory service.
CREATE DATABASE kratos;
CREATE DATABASE hydra;
CREATE DATABASE keto;
