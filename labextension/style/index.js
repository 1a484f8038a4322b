import './base.css';
import './serverplace.css';
