"""Deployment of the AWS mode: the CloudFormation stack as code, the deploy and edge-provisioning steps.

Infrastructure is not stream logic, so it lives above `stream/` and `batch/` (it reads their
configuration, they never import it) and below the CLI (`moodlens infra`, `moodlens edge provision`).

* ``stack``      builds the one CloudFormation template (``python -m deploy.stack``)
* ``container``  what the container runs: commands, environment names, metric names (the integration
                 point with the stream host, the lake and the reports)
* ``deployer``   create-or-update with boto3, checks before anything is created
* ``provision``  one camera's IoT thing, certificate, policy and settings file
"""
