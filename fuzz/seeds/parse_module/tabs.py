if x:
	down_revision = 'a'
revision = 't'
