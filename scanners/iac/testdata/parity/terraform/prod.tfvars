# Passed with --tf-vars: turns the volume's encryption off (AWS-0026).
volume_encrypted = false
