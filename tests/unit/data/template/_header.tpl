<header><a href="/">{{ site }}</a>{% for link in links %} <a href="{{ link.href }}">{{ link.text }}</a>{% end %}</header>
