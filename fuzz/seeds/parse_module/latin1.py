revision = 'é'
