document.body.dataset['state'] = 'done';
