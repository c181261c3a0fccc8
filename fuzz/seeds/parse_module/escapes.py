revision = 'a\x41\u00e9\N{BULLET}' 'b'
down_revision = r'\d'
