#!/bin/sh
# Deploys the demo app. The Slack webhook below is fake.
curl -X POST -d '{"text":"deployed"}' https://hooks.slack.com/services/T01ABCDEF23/B04GHIJKL56/Xq8Rt2Lm9Vw4Zp7Kd3Sf6Hj1
