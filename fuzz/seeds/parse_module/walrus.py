revision = (y := 'w')
down_revision = ['a', 'b']
