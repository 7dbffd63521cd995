"""What more than one test module uses: helpers, and fixtures that tests/conftest.py registers for
every test package. Test modules import from here, never from another test module or a conftest.

- services: PostgreSQL databases, moto's S3 server, free ports;
- backends: the API on PostgreSQL + S3 and on SQLite + a local folder, tenants and admin keys;
- api, lifecycle: requests through the API; what workers and admins do to jobs, straight on the database;
- workers, serving, trainer, transformer: the training and inference tasks in the test process, the
  trainer's command, one forward pass of a transformer;
- processes, cluster, brokers, flow: real platform processes for end-to-end tests;
- deadlines, images, image_modes, intake: waiting on conditions; test images and uploads.
"""
